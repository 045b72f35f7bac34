-- +goose Up
-- A merge may merge several contacts into its primary (mergeContacts with secondaryContactIds):
-- merged_contact_ids lists them all in the order given (merged_contact_id stays the first), and
-- the snapshot's "secondaries" holds each one's record. automatic marks the merges the workspace's
-- automatic merges made on a first message (merged_by is NULL for them).
ALTER TABLE merges ADD COLUMN merged_contact_ids uuid[];
UPDATE merges SET merged_contact_ids = ARRAY[merged_contact_id];
ALTER TABLE merges ALTER COLUMN merged_contact_ids SET NOT NULL;
ALTER TABLE merges ADD COLUMN automatic boolean NOT NULL DEFAULT false;
CREATE INDEX merges_merged_ids ON merges USING gin (merged_contact_ids) WHERE undone_at IS NULL;

-- The workspace's automatic merges (setAutoMerge), both off by default.
ALTER TABLE workspaces ADD COLUMN auto_merge_phone boolean NOT NULL DEFAULT false;
ALTER TABLE workspaces ADD COLUMN auto_merge_email boolean NOT NULL DEFAULT false;

-- +goose Down
ALTER TABLE workspaces DROP COLUMN auto_merge_email;
ALTER TABLE workspaces DROP COLUMN auto_merge_phone;
DROP INDEX merges_merged_ids;
ALTER TABLE merges DROP COLUMN automatic;
ALTER TABLE merges DROP COLUMN merged_contact_ids;
