-- +goose Up
-- Blocking. Messages a blocked contact sends are stored but hidden: no list, count, channel
-- lastInteractionAt or billing count ever includes them. A hidden message joins the contact's
-- latest conversation without reopening it; a contact with no conversation gets a hidden,
-- closed one, which no list shows either.
ALTER TABLE messages ADD COLUMN hidden boolean NOT NULL DEFAULT false;
ALTER TABLE conversations ADD COLUMN hidden boolean NOT NULL DEFAULT false;

-- activeContacts: the visible inbound messages of a workspace by time.
CREATE INDEX messages_active ON messages (workspace_id, sent_at, conversation_id)
    WHERE direction = 'INBOUND' AND NOT hidden;

-- The runs of workflows (another module's) per contact, so a block can stop them.
CREATE TABLE workflow_runs (
    id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    workspace_id  uuid NOT NULL REFERENCES workspaces ON DELETE CASCADE,
    contact_id    uuid NOT NULL REFERENCES contacts ON DELETE CASCADE,
    workflow_name text NOT NULL,
    status        text NOT NULL CHECK (status IN ('RUNNING', 'STOPPED', 'FINISHED')),
    stop_reason   text,
    started_at    timestamptz NOT NULL DEFAULT clock_timestamp(),
    stopped_at    timestamptz
);
CREATE INDEX workflow_runs_contact ON workflow_runs (contact_id, started_at DESC, id DESC);

-- +goose Down
DROP TABLE workflow_runs;
DROP INDEX messages_active;
ALTER TABLE conversations DROP COLUMN hidden;
ALTER TABLE messages DROP COLUMN hidden;
