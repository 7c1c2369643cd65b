-- Sync rule 5 conflicts: rows whose stored version is newer than what Clerk
-- lists, and tombstones of objects Clerk still lists. A run reports them per
-- kind and leaves them alone; an authoritative run (`syncd reconcile
-- --authoritative`) makes each equal to what a GET of that one object
-- answers, and counts those it repaired.

-- +goose Up
ALTER TABLE clerk.reconciliation_runs
    ADD COLUMN authoritative           boolean NOT NULL DEFAULT false,
    ADD COLUMN users_conflicts         bigint NOT NULL DEFAULT 0,
    ADD COLUMN users_repaired          bigint NOT NULL DEFAULT 0,
    ADD COLUMN organizations_conflicts bigint NOT NULL DEFAULT 0,
    ADD COLUMN organizations_repaired  bigint NOT NULL DEFAULT 0,
    ADD COLUMN memberships_conflicts   bigint NOT NULL DEFAULT 0,
    ADD COLUMN memberships_repaired    bigint NOT NULL DEFAULT 0;

-- +goose Down
ALTER TABLE clerk.reconciliation_runs
    DROP COLUMN authoritative,
    DROP COLUMN users_conflicts,
    DROP COLUMN users_repaired,
    DROP COLUMN organizations_conflicts,
    DROP COLUMN organizations_repaired,
    DROP COLUMN memberships_conflicts,
    DROP COLUMN memberships_repaired;
