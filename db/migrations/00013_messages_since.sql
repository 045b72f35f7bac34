-- +goose Up
-- unmergeContacts finds the messages that reached a contact's conversations since the merge
-- (created_at, not sent_at, which a provider may date earlier). Without this index that
-- read scanned every message of the database; with it, it reads the contact's
-- conversations and, in each, only the messages since the merge.
CREATE INDEX messages_conversation_created ON messages (conversation_id, created_at);

-- +goose Down
DROP INDEX messages_conversation_created;
