-- +goose Up
-- receiveMessage finds the contact an unlinked identity belonged to through its latest
-- message (removeContactChannel drops the link but keeps the history), so that a later
-- inbound message links it again to the same contact instead of creating a new one.
CREATE INDEX messages_identity ON messages (channel_id, identifier, created_at DESC, id DESC);

-- +goose Down
DROP INDEX messages_identity;
