-- body_sha256: the SHA-256 of the exact bytes of a webhook's body
-- received. payload is jsonb, which normalises the document
-- (key order, spaces, and a \u0000 stored as U+FFFD), so the payload can no
-- longer tell whether a second delivery under the same svix-id carries the
-- same body; the hash can. The same id with the same hash is a redelivery
-- (2xx, nothing stored); with another hash it is a conflict (409, the first
-- is kept).
--
-- Rows stored before this migration keep NULL: their exact bytes are gone,
-- and a hash of payload::text would not match any real body, so every
-- redelivery of an old event would read as a conflict. A NULL hash is
-- treated as "same body" (a redelivery), as before this column existed.
--
-- The column is in no index, so the outcome update of an event stays HOT
-- (see 00001).

-- +goose Up
ALTER TABLE clerk.webhook_events ADD COLUMN body_sha256 bytea;

-- +goose Down
ALTER TABLE clerk.webhook_events DROP COLUMN body_sha256;
