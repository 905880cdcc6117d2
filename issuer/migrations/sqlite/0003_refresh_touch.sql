-- A new refresh token marks its family as used, inside the inserting
-- transaction (one statement less per rotation).
CREATE TRIGGER IF NOT EXISTS refresh_tokens_touch_family
AFTER INSERT ON refresh_tokens
BEGIN
    UPDATE refresh_families SET last_used_ms = NEW.issued_ms WHERE id = NEW.family_id;
END;
