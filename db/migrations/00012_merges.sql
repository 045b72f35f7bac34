-- +goose Up
-- A merge suggestion: a group of contacts joined by shared phones or emails. contact_ids and
-- keys (the shared values, "PHONE:+39..." / "EMAIL:a@b") are kept sorted; a DISMISSED one
-- keeps them so the same contacts and values are not offered again.
CREATE TABLE merge_suggestions (
    id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    workspace_id uuid NOT NULL REFERENCES workspaces ON DELETE CASCADE,
    status       text NOT NULL CHECK (status IN ('OPEN', 'DISMISSED', 'MERGED', 'RESOLVED')),
    contact_ids  uuid[] NOT NULL,
    keys         text[] NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT clock_timestamp(),
    updated_at   timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX merge_suggestions_list ON merge_suggestions (workspace_id, status, updated_at DESC, id DESC);
CREATE INDEX merge_suggestions_dismissed ON merge_suggestions USING gin (contact_ids) WHERE status = 'DISMISSED';

-- The members of OPEN suggestions, to find a contact's suggestions.
CREATE TABLE merge_suggestion_contacts (
    suggestion_id uuid NOT NULL REFERENCES merge_suggestions ON DELETE CASCADE,
    contact_id    uuid NOT NULL,
    PRIMARY KEY (contact_id, suggestion_id)
);
CREATE INDEX merge_suggestion_contacts_suggestion ON merge_suggestion_contacts (suggestion_id);

-- Duplicate lookups by key among contacts that count (not blocked).
CREATE INDEX contacts_dup_phone ON contacts (workspace_id, phone) WHERE phone IS NOT NULL AND blocked_at IS NULL;
CREATE INDEX contacts_dup_email ON contacts (workspace_id, lower(btrim(email))) WHERE email IS NOT NULL AND blocked_at IS NULL;

CREATE TABLE merges (
    id                 uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    workspace_id       uuid NOT NULL REFERENCES workspaces ON DELETE CASCADE,
    primary_contact_id uuid NOT NULL,
    merged_contact_id  uuid NOT NULL,
    snapshot           jsonb NOT NULL,
    merged_by          uuid REFERENCES members ON DELETE SET NULL,
    merged_at          timestamptz NOT NULL DEFAULT clock_timestamp(),
    undone_at          timestamptz,
    undone_by          uuid REFERENCES members ON DELETE SET NULL
);
CREATE INDEX merges_history ON merges (workspace_id, merged_at DESC, id DESC);
CREATE INDEX merges_primary ON merges (primary_contact_id) WHERE undone_at IS NULL;
CREATE INDEX merges_merged ON merges (merged_contact_id) WHERE undone_at IS NULL;

-- +goose Down
DROP TABLE merges, merge_suggestion_contacts, merge_suggestions;
DROP INDEX contacts_dup_phone, contacts_dup_email;
