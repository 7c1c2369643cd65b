-- The clerk schema: the webhook inbox and the synced copy of Clerk's users,
-- organizations and memberships. Other services read these columns by name:
-- they are never renamed or dropped.
--
-- Version rule: a row's version is its
-- updated_at; a write lands only when its version is not older and the row
-- is not deleted. The rule itself is the SQL function clerk.write_allowed
-- (migration 00005), which every upsert of internal/store calls.
-- sync_hash is a digest of every synced column (and, for users, the email
-- list): it lets an upsert with the same version and the same content write
-- nothing, so a reconciliation with no drift touches no row.

-- +goose Up
CREATE SCHEMA IF NOT EXISTS clerk;

CREATE TABLE clerk.webhook_events (
    id          text PRIMARY KEY,
    type        text NOT NULL,
    object_id   text,
    instance_id text,
    occurred_at timestamptz,
    received_at timestamptz NOT NULL DEFAULT now(),
    payload     jsonb NOT NULL,
    status      text NOT NULL DEFAULT 'pending'
                CHECK (status IN ('pending', 'applied', 'skipped', 'failed')),
    applied_at  timestamptz,
    error       text,
    -- why an event was skipped (unsynced type, older than the row, row deleted)
    detail      text
)
-- Every event is inserted once and updated once (its outcome). No index
-- covers the columns that update sets, and each page keeps room, so the
-- update is HOT: it rewrites no index entry. That is also why there is no
-- index on status: queries for failed events go by received_at.
WITH (fillfactor = 85);
CREATE INDEX webhook_events_received_at_idx ON clerk.webhook_events (received_at);
CREATE INDEX webhook_events_object_idx ON clerk.webhook_events (object_id);

CREATE TABLE clerk.users (
    id                    text PRIMARY KEY,
    external_id           text,
    username              text,
    first_name            text,
    last_name             text,
    image_url             text,
    primary_email_address text,
    public_metadata       jsonb,
    private_metadata      jsonb,
    unsafe_metadata       jsonb,
    banned                boolean,
    locked                boolean,
    last_sign_in_at       timestamptz,
    created_at            timestamptz,
    updated_at            timestamptz,
    deleted_at            timestamptz,
    raw                   jsonb,
    synced_at             timestamptz NOT NULL DEFAULT now(),
    sync_hash             bytea
);
CREATE INDEX users_external_id_idx ON clerk.users (external_id) WHERE external_id IS NOT NULL;
CREATE INDEX users_primary_email_idx ON clerk.users (lower(primary_email_address))
    WHERE primary_email_address IS NOT NULL;
CREATE INDEX users_synced_at_idx ON clerk.users (synced_at) WHERE deleted_at IS NULL;

-- No foreign key to users: an address list is only ever written together with
-- its user row, in the same transaction.
CREATE TABLE clerk.user_email_addresses (
    id            text NOT NULL,
    user_id       text NOT NULL,
    email_address text NOT NULL,
    verified      boolean NOT NULL DEFAULT false,
    is_primary    boolean NOT NULL DEFAULT false,
    PRIMARY KEY (user_id, id)
);
CREATE INDEX user_email_addresses_email_idx ON clerk.user_email_addresses (lower(email_address));

CREATE TABLE clerk.organizations (
    id                      text PRIMARY KEY,
    name                    text,
    slug                    text,
    image_url               text,
    created_by              text,
    max_allowed_memberships bigint,
    public_metadata         jsonb,
    private_metadata        jsonb,
    created_at              timestamptz,
    updated_at              timestamptz,
    deleted_at              timestamptz,
    raw                     jsonb,
    synced_at               timestamptz NOT NULL DEFAULT now(),
    sync_hash               bytea
);
CREATE INDEX organizations_slug_idx ON clerk.organizations (slug) WHERE deleted_at IS NULL;
CREATE INDEX organizations_synced_at_idx ON clerk.organizations (synced_at) WHERE deleted_at IS NULL;

-- Memberships may arrive before their user or organization (Svix does not
-- order deliveries), so there are no foreign keys that would reject them.
CREATE TABLE clerk.organization_memberships (
    id               text PRIMARY KEY,
    organization_id  text NOT NULL,
    user_id          text NOT NULL,
    role             text,
    permissions      text[],
    public_metadata  jsonb,
    private_metadata jsonb,
    created_at       timestamptz,
    updated_at       timestamptz,
    deleted_at       timestamptz,
    raw              jsonb,
    synced_at        timestamptz NOT NULL DEFAULT now(),
    sync_hash        bytea
);
CREATE INDEX organization_memberships_org_idx ON clerk.organization_memberships (organization_id);
CREATE INDEX organization_memberships_user_idx ON clerk.organization_memberships (user_id);
CREATE INDEX organization_memberships_synced_at_idx ON clerk.organization_memberships (synced_at)
    WHERE deleted_at IS NULL;

CREATE TABLE clerk.reconciliation_runs (
    id                      bigserial PRIMARY KEY,
    trigger                 text NOT NULL CHECK (trigger IN ('schedule', 'manual')),
    status                  text NOT NULL DEFAULT 'running'
                            CHECK (status IN ('running', 'succeeded', 'failed')),
    dry_run                 boolean NOT NULL DEFAULT false,
    -- The River job running the run. A 'running' row whose job is no longer
    -- in flight (and whose lock no session holds) was abandoned by a process
    -- that died; the next trigger marks it failed instead of waiting forever.
    job_id                  bigint,
    started_at              timestamptz NOT NULL DEFAULT now(),
    finished_at             timestamptz,
    users_seen              bigint NOT NULL DEFAULT 0,
    users_created           bigint NOT NULL DEFAULT 0,
    users_updated           bigint NOT NULL DEFAULT 0,
    users_deleted           bigint NOT NULL DEFAULT 0,
    users_unchanged         bigint NOT NULL DEFAULT 0,
    users_errors            bigint NOT NULL DEFAULT 0,
    organizations_seen      bigint NOT NULL DEFAULT 0,
    organizations_created   bigint NOT NULL DEFAULT 0,
    organizations_updated   bigint NOT NULL DEFAULT 0,
    organizations_deleted   bigint NOT NULL DEFAULT 0,
    organizations_unchanged bigint NOT NULL DEFAULT 0,
    organizations_errors    bigint NOT NULL DEFAULT 0,
    memberships_seen        bigint NOT NULL DEFAULT 0,
    memberships_created     bigint NOT NULL DEFAULT 0,
    memberships_updated     bigint NOT NULL DEFAULT 0,
    memberships_deleted     bigint NOT NULL DEFAULT 0,
    memberships_unchanged   bigint NOT NULL DEFAULT 0,
    memberships_errors      bigint NOT NULL DEFAULT 0,
    api_requests            bigint NOT NULL DEFAULT 0,
    api_rate_limited        bigint NOT NULL DEFAULT 0,
    error                   text
);
-- At most one run at a time, whatever starts it.
CREATE UNIQUE INDEX reconciliation_runs_one_running_idx ON clerk.reconciliation_runs ((true))
    WHERE status = 'running';

CREATE VIEW clerk.active_users AS
SELECT id, external_id, username, first_name, last_name, image_url,
       primary_email_address, public_metadata, private_metadata, unsafe_metadata,
       banned, locked, last_sign_in_at, created_at, updated_at, deleted_at, raw, synced_at
FROM clerk.users
WHERE deleted_at IS NULL;

CREATE VIEW clerk.active_organizations AS
SELECT id, name, slug, image_url, created_by, max_allowed_memberships,
       public_metadata, private_metadata, created_at, updated_at, deleted_at, raw, synced_at
FROM clerk.organizations
WHERE deleted_at IS NULL;

-- LEFT JOINs: a membership is listed even while its user or organization
-- has not arrived yet.
CREATE VIEW clerk.active_memberships AS
SELECT m.id, m.organization_id, m.user_id, m.role, m.permissions,
       m.public_metadata, m.private_metadata, m.created_at, m.updated_at,
       m.deleted_at, m.raw, m.synced_at,
       u.primary_email_address AS user_primary_email_address,
       u.first_name AS user_first_name,
       u.last_name AS user_last_name,
       o.name AS organization_name,
       o.slug AS organization_slug
FROM clerk.organization_memberships m
LEFT JOIN clerk.users u ON u.id = m.user_id
LEFT JOIN clerk.organizations o ON o.id = m.organization_id
WHERE m.deleted_at IS NULL;

-- +goose Down
DROP SCHEMA clerk CASCADE;
