-- The session document is TOASTed past about 2 kB, and every write decompresses and
-- recompresses it: lz4 does both several times faster than the default pglz. A server
-- built without lz4 (or older than PostgreSQL 14) keeps pglz: the layout is the same.
DO $$
BEGIN
    EXECUTE 'ALTER TABLE {table} ALTER COLUMN data SET COMPRESSION lz4';
EXCEPTION WHEN feature_not_supported OR syntax_error OR invalid_parameter_value THEN
    NULL;
END
$$;
