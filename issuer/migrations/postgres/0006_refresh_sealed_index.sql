-- Sealed successors (the grace window) of one family: each rotation with a
-- grace window drops the family's expired ones, and the periodic purge
-- drops all expired ones. Only the few rows still holding one are indexed,
-- so neither looks at every token a long-lived family has had.
CREATE INDEX IF NOT EXISTS refresh_tokens_sealed ON refresh_tokens (family_id)
    WHERE successor_sealed IS NOT NULL;
