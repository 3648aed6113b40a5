CREATE TABLE IF NOT EXISTS {table} (
    key         text    PRIMARY KEY,
    data        jsonb   NOT NULL,
    created_at  bigint  NOT NULL,
    expires_at  bigint  NOT NULL,
    user_id     text,
    persistent  boolean NOT NULL DEFAULT false,
    version     bigint  NOT NULL
);
CREATE INDEX IF NOT EXISTS "{name}_expires_at_idx" ON {table} (expires_at);
CREATE INDEX IF NOT EXISTS "{name}_user_id_idx" ON {table} (user_id) WHERE user_id IS NOT NULL;
