CREATE TABLE IF NOT EXISTS "{name}" (
    key         TEXT    PRIMARY KEY NOT NULL,
    data        TEXT    NOT NULL,
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL,
    user_id     TEXT,
    persistent  INTEGER NOT NULL DEFAULT 0,
    version     INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS "{name}_expires_at_idx" ON "{name}" (expires_at);
CREATE INDEX IF NOT EXISTS "{name}_user_id_idx" ON "{name}" (user_id) WHERE user_id IS NOT NULL;
