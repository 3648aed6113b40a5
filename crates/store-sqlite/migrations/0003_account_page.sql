ALTER TABLE "{name}" ADD COLUMN last_seen INTEGER;
ALTER TABLE "{name}" ADD COLUMN label TEXT;
CREATE INDEX IF NOT EXISTS "{name}_user_created_idx" ON "{name}" (user_id, created_at, key) WHERE user_id IS NOT NULL;
