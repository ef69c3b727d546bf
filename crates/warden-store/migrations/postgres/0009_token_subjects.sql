-- A token may be tied to a person of the identity provider (`issuer|subject`): acts through it are that
-- person's, so separation of duties sees one person whether they use the token or sign in.
ALTER TABLE tokens ADD COLUMN subject TEXT;
