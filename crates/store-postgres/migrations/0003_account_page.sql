ALTER TABLE {table} ADD COLUMN IF NOT EXISTS last_seen bigint;
ALTER TABLE {table} ADD COLUMN IF NOT EXISTS label text;
CREATE INDEX IF NOT EXISTS "{name}_user_created_idx" ON {table} (user_id, created_at, key) WHERE user_id IS NOT NULL;
