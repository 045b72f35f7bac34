-- +goose Up
-- The b-tree indexes of the primary phone and email (the first duplicate rule's, and the
-- foundation's) serve no query since duplicates are found through every phone and email of a
-- contact (contacts_dup_phones, contacts_dup_emails: GIN) and search through search_text. Every
-- contact insert, and every update that is not HOT (a rename changes sort_name), wrote four
-- index entries for nothing.
DROP INDEX contacts_phone, contacts_email, contacts_dup_phone, contacts_dup_email;

-- +goose Down
CREATE INDEX contacts_email ON contacts (workspace_id, lower(email)) WHERE email IS NOT NULL;
CREATE INDEX contacts_phone ON contacts (workspace_id, phone) WHERE phone IS NOT NULL;
CREATE INDEX contacts_dup_phone ON contacts (workspace_id, phone) WHERE phone IS NOT NULL AND blocked_at IS NULL;
CREATE INDEX contacts_dup_email ON contacts (workspace_id, lower(btrim(email))) WHERE email IS NOT NULL AND blocked_at IS NULL;
