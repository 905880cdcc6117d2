-- A new refresh token marks its family as used, inside the inserting
-- transaction (one statement less per rotation).
CREATE OR REPLACE FUNCTION refresh_tokens_touch_family() RETURNS trigger AS $$
BEGIN
    UPDATE refresh_families SET last_used_ms = NEW.issued_ms WHERE id = NEW.family_id;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;

DROP TRIGGER IF EXISTS refresh_tokens_touch_family ON refresh_tokens;
CREATE TRIGGER refresh_tokens_touch_family
AFTER INSERT ON refresh_tokens
FOR EACH ROW EXECUTE FUNCTION refresh_tokens_touch_family();
