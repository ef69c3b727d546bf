-- Tokens may expire: after `expires_at` (microseconds since the epoch) the token no longer authenticates.
-- NULL: the token does not expire.
ALTER TABLE tokens ADD COLUMN expires_at INTEGER;
