-- Failed logins, for throttling shared by every issuer instance on this
-- database (see issuer/src/throttle.rs). One row per failure and counted
-- key: kind 'user' (key = the username tried) or 'ip' (key = the client
-- address). Rows older than the window are deleted when the key fails
-- again and by a periodic purge, so the table stays small.
CREATE TABLE IF NOT EXISTS login_failures (
    kind  TEXT   NOT NULL,
    key   TEXT   NOT NULL,
    at_ms BIGINT NOT NULL
);
-- The throttle check: the newest failures of one key.
CREATE INDEX IF NOT EXISTS login_failures_key ON login_failures (kind, key, at_ms);
-- The periodic purge of expired rows.
CREATE INDEX IF NOT EXISTS login_failures_at ON login_failures (at_ms);
