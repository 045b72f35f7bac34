-- +goose Up
-- Events are read by the transaction that wrote them instead of by a global lock on seq
-- (see db/events.go): xid is the writer's top-level transaction id, so that a reader can ask
-- for exactly the events of the transactions its last snapshot did not see yet. Rows written
-- before this migration keep a NULL xid: every reader's snapshot sees them already. Adding
-- the column without a default, then setting the default, rewrites nothing.
ALTER TABLE events ADD COLUMN xid xid8;
ALTER TABLE events ALTER COLUMN xid SET DEFAULT pg_current_xact_id();
CREATE INDEX events_xid ON events (xid);

-- +goose Down
DROP INDEX events_xid;
ALTER TABLE events DROP COLUMN xid;
