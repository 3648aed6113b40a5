ALTER TABLE {table} ADD COLUMN IF NOT EXISTS authenticated_at bigint;
CREATE TABLE IF NOT EXISTS {revocations} (
    user_id     text    PRIMARY KEY,
    revoked_at  bigint  NOT NULL,
    kept_key    text
);
CREATE INDEX IF NOT EXISTS "{name}_revoked_at_idx" ON {revocations} (revoked_at);
