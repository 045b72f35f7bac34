-- +goose Up
CREATE TABLE channels (
    id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    workspace_id uuid NOT NULL REFERENCES workspaces ON DELETE CASCADE,
    type         text NOT NULL CHECK (type IN ('FACEBOOK', 'INSTAGRAM', 'WHATSAPP', 'SMS', 'EMAIL', 'TELEGRAM', 'LINE', 'VIBER', 'WEBCHAT')),
    name         text NOT NULL,
    page_id      text,
    created_at   timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX channels_workspace ON channels (workspace_id, created_at, id);

-- A contact's identity on a channel. One identifier on one channel belongs to one contact; a
-- contact may hold several identities on one channel (after a merge).
CREATE TABLE contact_channels (
    id                  uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    workspace_id        uuid NOT NULL REFERENCES workspaces ON DELETE CASCADE,
    contact_id          uuid NOT NULL REFERENCES contacts ON DELETE CASCADE,
    channel_id          uuid NOT NULL REFERENCES channels ON DELETE CASCADE,
    identifier          text NOT NULL,
    connected_at        timestamptz NOT NULL,
    last_interaction_at timestamptz NOT NULL,
    UNIQUE (channel_id, identifier)
);
CREATE INDEX contact_channels_contact ON contact_channels (contact_id, channel_id);

CREATE TABLE conversations (
    id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    workspace_id uuid NOT NULL REFERENCES workspaces ON DELETE CASCADE,
    contact_id   uuid NOT NULL REFERENCES contacts ON DELETE CASCADE,
    channel_id   uuid REFERENCES channels ON DELETE SET NULL,
    status       text NOT NULL CHECK (status IN ('OPEN', 'CLOSED')),
    created_at   timestamptz NOT NULL DEFAULT clock_timestamp(),
    closed_at    timestamptz
);
-- At most one open conversation per contact.
CREATE UNIQUE INDEX conversations_open ON conversations (contact_id) WHERE status = 'OPEN';
CREATE INDEX conversations_contact ON conversations (contact_id, created_at DESC, id DESC);

CREATE TABLE messages (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    workspace_id    uuid NOT NULL REFERENCES workspaces ON DELETE CASCADE,
    conversation_id uuid NOT NULL REFERENCES conversations ON DELETE CASCADE,
    channel_id      uuid REFERENCES channels ON DELETE SET NULL,
    identifier      text NOT NULL,  -- the contact's identity on the channel it came through
    direction       text NOT NULL CHECK (direction IN ('INBOUND', 'OUTBOUND')),
    text            text NOT NULL,
    sent_at         timestamptz NOT NULL,
    external_id     text,
    created_at      timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX messages_conversation ON messages (conversation_id, sent_at DESC, id DESC);
-- A provider's message id is recorded once per channel: retried webhooks change nothing.
CREATE UNIQUE INDEX messages_external ON messages (channel_id, external_id) WHERE external_id IS NOT NULL;

-- +goose Down
DROP TABLE messages, conversations, contact_channels, channels;
