-- Refresh-token families and rotating refresh tokens (postgres).
-- Times in these tables are Unix milliseconds (suffix _ms): grace windows
-- and short test lifetimes need sub-second precision.

-- One family per login (a "session"); revoking it revokes every token in it.
CREATE TABLE IF NOT EXISTS refresh_families (
    id             TEXT   PRIMARY KEY NOT NULL,
    subject        TEXT   NOT NULL,
    client_id      TEXT   NOT NULL,
    -- What the login granted; a refresh may narrow, never widen.
    scopes         TEXT   NOT NULL DEFAULT '',
    audiences      TEXT   NOT NULL DEFAULT '',
    created_ms     BIGINT NOT NULL,
    last_used_ms   BIGINT NOT NULL,
    -- Absolute lifetime: no token of the family is valid after it.
    expires_ms     BIGINT NOT NULL,
    revoked_ms     BIGINT,
    revoked_reason TEXT
);
CREATE INDEX IF NOT EXISTS refresh_families_subject ON refresh_families (subject);

-- Only the base64url SHA-256 of a token is stored.
CREATE TABLE IF NOT EXISTS refresh_tokens (
    hash             TEXT   PRIMARY KEY NOT NULL,
    family_id        TEXT   NOT NULL REFERENCES refresh_families (id) ON DELETE CASCADE,
    parent           TEXT,
    issued_ms        BIGINT NOT NULL,
    -- Idle lifetime, capped by the family's absolute lifetime.
    expires_ms       BIGINT NOT NULL,
    used_ms          BIGINT,
    successor        TEXT,
    -- The successor token sealed under the KEK (AAD = this row's hash),
    -- kept only for the grace window so a lost response can be retried.
    successor_sealed BYTEA
);
CREATE INDEX IF NOT EXISTS refresh_tokens_family ON refresh_tokens (family_id);
CREATE INDEX IF NOT EXISTS refresh_tokens_parent ON refresh_tokens (parent);
