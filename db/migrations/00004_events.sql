-- +goose Up
-- The event outbox: a change writes its events in its own transaction, so an event exists
-- exactly when its change committed. seq follows commit order: writers take one advisory lock
-- before inserting and hold it to commit (see db/events.go).
CREATE TABLE events (
    seq          bigserial PRIMARY KEY,
    workspace_id uuid NOT NULL,
    kind         text NOT NULL,
    type         text NOT NULL,
    contact_id   uuid,
    subject_id   uuid,
    created_at   timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX events_created ON events (created_at);

-- +goose Down
DROP TABLE events;
