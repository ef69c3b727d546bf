-- Warnings about a version's inputs found at registration (identifier-like or protected-looking columns), a
-- JSON array kept with the version so its reviewers see them. Versions registered before have none recorded.
ALTER TABLE versions ADD COLUMN input_warnings TEXT NOT NULL DEFAULT '[]';
