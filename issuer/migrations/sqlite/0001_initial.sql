-- Initial schema of the issuer store (SQLite).
-- Times are Unix seconds; lists are space-separated text.

CREATE TABLE IF NOT EXISTS signing_keys (
    kid          TEXT    PRIMARY KEY NOT NULL,
    state        TEXT    NOT NULL CHECK (state IN ('pending', 'active', 'retiring', 'retired', 'revoked')),
    alg          TEXT    NOT NULL DEFAULT 'RS256',
    bits         BIGINT  NOT NULL,
    n            TEXT    NOT NULL,
    e            TEXT    NOT NULL,
    -- nonce (12 bytes) || AES-256-GCM ciphertext || tag; AAD = kid.
    -- NULL once the key is retired or revoked (material destroyed).
    private_key  BLOB,
    created_at   BIGINT  NOT NULL,
    activate_at  BIGINT  NOT NULL,
    retire_at    BIGINT,
    signed_count BIGINT  NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS signing_keys_state ON signing_keys (state);

CREATE TABLE IF NOT EXISTS users (
    name          TEXT   PRIMARY KEY NOT NULL,
    password_hash TEXT   NOT NULL,
    roles         TEXT   NOT NULL DEFAULT '',
    scopes        TEXT,
    audiences     TEXT,
    disabled      BIGINT NOT NULL DEFAULT 0,
    created_at    BIGINT NOT NULL
);

CREATE TABLE IF NOT EXISTS clients (
    id          TEXT   PRIMARY KEY NOT NULL,
    -- base64url SHA-256 of the secret; NULL for a public client.
    secret_hash TEXT,
    scopes      TEXT   NOT NULL DEFAULT '',
    audiences   TEXT   NOT NULL DEFAULT '',
    disabled    BIGINT NOT NULL DEFAULT 0,
    created_at  BIGINT NOT NULL
);

CREATE TABLE IF NOT EXISTS audit_events (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    at         BIGINT  NOT NULL,
    kind       TEXT    NOT NULL,
    subject    TEXT,
    client     TEXT,
    ip         TEXT,
    request_id TEXT,
    detail     TEXT
);
CREATE INDEX IF NOT EXISTS audit_events_at ON audit_events (at);
