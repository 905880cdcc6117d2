-- The key timings each issuer instance on this database runs with, so that
-- every process (another instance, `issuer keys rotate` from any shell)
-- schedules rotations with the same, safest leads (see
-- issuer/src/lifecycle/timings.rs). One row per distinct set of timings, in
-- seconds; seen_at is when an instance with these timings last started or
-- confirmed them (about once a minute while it runs). A row that no
-- instance confirms any more stops mattering once its retirement delay has
-- passed, and is deleted after 30 days.
CREATE TABLE IF NOT EXISTS key_timings (
    prepublish      BIGINT NOT NULL,
    retire_delay    BIGINT NOT NULL,
    rotation_period BIGINT NOT NULL,
    jwks_max_age    BIGINT NOT NULL,
    access_ttl      BIGINT NOT NULL,
    margin          BIGINT NOT NULL,
    seen_at         BIGINT NOT NULL,
    PRIMARY KEY (prepublish, retire_delay, rotation_period, jwks_max_age, access_ttl, margin)
);
