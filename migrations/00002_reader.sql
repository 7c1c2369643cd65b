-- What the services that read the tables get: the clerk_reader role (read
-- the synced copy, nothing else) and the clerk.sync_status view (how fresh
-- the copy is).

-- +goose Up

-- One row, read on every request by services that show how fresh the copy
-- is, so both halves must be index probes, not scans:
--
-- last_applied_at is when the newest applied event (newest by received_at)
-- was applied, found by walking webhook_events_received_at_idx backwards to
-- the first applied row. An exact max(applied_at) would need an index on
-- applied_at or status, and the outcome update of every event sets both:
-- the update would stop being HOT (see 00001) and the apply path would pay
-- an index insertion per event for a status read. A replay of an old event
-- therefore does not move last_applied_at, which is what a freshness check
-- wants anyway: it reports how far the stream of new events has been
-- applied.
--
-- last_reconciled_at is when the last successful run finished; dry runs
-- change nothing and do not count. The runs table has one row per run (one a
-- night), so sorting it costs nothing worth an index.
CREATE VIEW clerk.sync_status AS
SELECT
    (SELECT e.applied_at
       FROM clerk.webhook_events e
      WHERE e.status = 'applied'
      ORDER BY e.received_at DESC
      LIMIT 1) AS last_applied_at,
    (SELECT r.finished_at
       FROM clerk.reconciliation_runs r
      WHERE r.status = 'succeeded' AND NOT r.dry_run
      ORDER BY r.finished_at DESC NULLS LAST
      LIMIT 1) AS last_reconciled_at;

-- The role, and SELECT on the synced copy and its views, nothing else: not
-- the webhook inbox (whole payloads), not the runs, and no default
-- privileges, so a table added later is readable only once its migration
-- grants it. sync_status reads webhook_events with its owner's rights, so the
-- role needs no grant there.
--
-- A role belongs to the whole cluster, not to this database: another
-- database on the same server (a second environment, or the many test
-- databases created in parallel) may have created it already, or be creating
-- it at this very moment. The existence check covers the first case; the
-- handler covers the race, where the loser gets duplicate_object or, while
-- the winner has not committed, a unique_violation on pg_authid's name
-- index.
--
-- The user running the migrations may lack CREATEROLE (a plain application
-- user on a managed server; the test suite's own user). A migration that
-- fails there would block syncd's upgrade over an optional grant, so it
-- warns and goes on; the README says what an administrator runs instead.
-- +goose StatementBegin
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'clerk_reader') THEN
        BEGIN
            CREATE ROLE clerk_reader NOLOGIN;
        EXCEPTION
            WHEN duplicate_object OR unique_violation THEN
                NULL;
            WHEN insufficient_privilege THEN
                RAISE WARNING 'role clerk_reader not created: % may not create roles; '
                    'as an administrator run CREATE ROLE clerk_reader NOLOGIN and the GRANTs of migration 00002_reader.sql',
                    current_user;
                RETURN;
        END;
    END IF;
    GRANT USAGE ON SCHEMA clerk TO clerk_reader;
    GRANT SELECT ON
        clerk.users,
        clerk.user_email_addresses,
        clerk.organizations,
        clerk.organization_memberships,
        clerk.active_users,
        clerk.active_organizations,
        clerk.active_memberships,
        clerk.sync_status
    TO clerk_reader;
END
$$;
-- +goose StatementEnd

-- +goose Down
-- The role stays: other databases on the server may grant it, and DROP ROLE
-- would fail while they do. Revoking here leaves it holding nothing in this
-- database.
-- +goose StatementBegin
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'clerk_reader') THEN
        REVOKE ALL ON
            clerk.users,
            clerk.user_email_addresses,
            clerk.organizations,
            clerk.organization_memberships,
            clerk.active_users,
            clerk.active_organizations,
            clerk.active_memberships,
            clerk.sync_status
        FROM clerk_reader;
        REVOKE USAGE ON SCHEMA clerk FROM clerk_reader;
    END IF;
END
$$;
-- +goose StatementEnd
DROP VIEW clerk.sync_status;
