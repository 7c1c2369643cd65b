-- The version rule, defined once: whether an incoming row may overwrite the
-- stored one. The stored row is not deleted (a deleted row is never written
-- again), the incoming version (updated_at) is not older than the stored
-- one, and the content differs (sync_hash), so that re-applying what a row
-- already holds writes nothing. A missing row reads as all NULLs, which the
-- rule accepts.
--
-- Every upsert of clerk.users, clerk.organizations and
-- clerk.organization_memberships calls it twice (internal/store): in its
-- ON CONFLICT ... DO UPDATE WHERE, the authority, evaluated on the locked
-- current row; and in the pre-filter that drops refused rows before
-- ON CONFLICT would lock them.
--
-- It must stay inlinable, or each of those calls becomes a function call per
-- row: LANGUAGE sql, one SELECT of one expression, IMMUTABLE (every operator
-- in it is), not STRICT (NULL arguments are the point), no SET clause, not
-- SECURITY DEFINER. Inlined, EXPLAIN shows the expression itself in the
-- upserts' plans, not clerk.write_allowed(...).

-- +goose Up
CREATE FUNCTION clerk.write_allowed(
    stored_deleted_at   timestamptz,
    stored_updated_at   timestamptz,
    stored_sync_hash    bytea,
    incoming_updated_at timestamptz,
    incoming_sync_hash  bytea
) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
    SELECT stored_deleted_at IS NULL
       AND (stored_updated_at IS NULL OR stored_updated_at <= incoming_updated_at)
       AND stored_sync_hash IS DISTINCT FROM incoming_sync_hash
$$;

-- +goose Down
DROP FUNCTION clerk.write_allowed(timestamptz, timestamptz, bytea, timestamptz, bytea);
