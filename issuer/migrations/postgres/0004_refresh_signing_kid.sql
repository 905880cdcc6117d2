-- The key that signed the access token issued with each refresh token, so
-- an emergency key revocation can revoke the families it touched.
ALTER TABLE refresh_tokens ADD COLUMN signing_kid TEXT;
CREATE INDEX IF NOT EXISTS refresh_tokens_signing_kid ON refresh_tokens (signing_kid);
