-- A version's artifact may carry an Ed25519 signature over its SHA-256, by a signer the server trusts.
ALTER TABLE versions ADD COLUMN artifact_signer TEXT;
ALTER TABLE versions ADD COLUMN artifact_signature TEXT;
