-- An API key created by a plaintext caller (galsync up --plaintext) is
-- marked, and refused by a scheduler that does not trust plaintext callers:
-- a key minted in a single-host session does not outlive it under TLS.
ALTER TABLE api_keys ADD COLUMN plaintext_only BOOLEAN NOT NULL DEFAULT FALSE;
