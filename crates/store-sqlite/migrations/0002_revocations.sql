ALTER TABLE "{name}" ADD COLUMN authenticated_at INTEGER;
CREATE TABLE IF NOT EXISTS "{name}_revocations" (
    user_id     TEXT    PRIMARY KEY NOT NULL,
    revoked_at  INTEGER NOT NULL,
    kept_key    TEXT
);
CREATE INDEX IF NOT EXISTS "{name}_revoked_at_idx" ON "{name}_revocations" (revoked_at);
