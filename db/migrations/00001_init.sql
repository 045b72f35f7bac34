-- +goose Up
CREATE EXTENSION IF NOT EXISTS pg_trgm;

CREATE TABLE workspaces (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    name        text NOT NULL,
    field_order text[] NOT NULL DEFAULT '{}',
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE members (
    id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    workspace_id uuid NOT NULL REFERENCES workspaces ON DELETE CASCADE,
    email        text NOT NULL,
    name         text NOT NULL DEFAULT '',
    role         text NOT NULL CHECK (role IN ('OWNER', 'MANAGER', 'AGENT')),
    created_at   timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX members_workspace_email ON members (workspace_id, lower(email));

-- Tokens are stored only as their SHA-256: a leaked table reveals no usable token.
CREATE TABLE api_tokens (
    token_hash bytea PRIMARY KEY,
    member_id  uuid NOT NULL REFERENCES members ON DELETE CASCADE,
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE contacts (
    id                  uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    workspace_id        uuid NOT NULL REFERENCES workspaces ON DELETE CASCADE,
    first_name          text,
    last_name           text,
    profile_name        text,
    profile_picture_url text,
    email               text,
    phone               text,
    country             text,
    country_manual      boolean NOT NULL DEFAULT false,
    language            text,
    assignee_id         uuid REFERENCES members ON DELETE SET NULL,
    blocked_at          timestamptz,
    created_at          timestamptz NOT NULL DEFAULT clock_timestamp(),
    updated_at          timestamptz NOT NULL DEFAULT clock_timestamp(),
    -- The NAME order: the display name's first choices, lower-cased.
    sort_name           text GENERATED ALWAYS AS (lower(coalesce(nullif(btrim(profile_name), ''),
                            btrim(coalesce(first_name, '') || ' ' || coalesce(last_name, ''))))) STORED,
    -- What `search` looks in, lower-cased, for the trigram index.
    search_text         text GENERATED ALWAYS AS (lower(coalesce(first_name, '') || ' ' || coalesce(last_name, '') || ' ' ||
                            coalesce(profile_name, '') || ' ' || coalesce(email, '') || ' ' || coalesce(phone, ''))) STORED
);
CREATE INDEX contacts_created ON contacts (workspace_id, created_at, id);
CREATE INDEX contacts_updated ON contacts (workspace_id, updated_at, id);
CREATE INDEX contacts_name ON contacts (workspace_id, sort_name, id);
CREATE INDEX contacts_assignee ON contacts (workspace_id, assignee_id, created_at, id) WHERE assignee_id IS NOT NULL;
CREATE INDEX contacts_country ON contacts (workspace_id, country, created_at, id) WHERE country IS NOT NULL;
CREATE INDEX contacts_blocked ON contacts (workspace_id, created_at, id) WHERE blocked_at IS NOT NULL;
CREATE INDEX contacts_email ON contacts (workspace_id, lower(email)) WHERE email IS NOT NULL;
CREATE INDEX contacts_phone ON contacts (workspace_id, phone) WHERE phone IS NOT NULL;
CREATE INDEX contacts_search ON contacts USING gin (search_text gin_trgm_ops);

CREATE TABLE tags (
    id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    workspace_id uuid NOT NULL REFERENCES workspaces ON DELETE CASCADE,
    name         text NOT NULL,
    color        text,
    created_at   timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX tags_workspace_name_unique ON tags (workspace_id, lower(name));

CREATE TABLE contact_tags (
    contact_id uuid NOT NULL REFERENCES contacts ON DELETE CASCADE,
    tag_id     uuid NOT NULL REFERENCES tags ON DELETE CASCADE,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (contact_id, tag_id)
);
CREATE INDEX contact_tags_tag ON contact_tags (tag_id, contact_id);

CREATE TABLE custom_field_definitions (
    id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    workspace_id uuid NOT NULL REFERENCES workspaces ON DELETE CASCADE,
    key          text NOT NULL,
    label        text NOT NULL,
    type         text NOT NULL CHECK (type IN ('TEXT', 'NUMBER', 'DATE', 'CHECKBOX', 'LIST', 'URL', 'EMAIL', 'PHONE')),
    options      text[],
    created_at   timestamptz NOT NULL DEFAULT clock_timestamp(),
    UNIQUE (workspace_id, key)
);

CREATE TABLE contact_custom_values (
    contact_id    uuid NOT NULL REFERENCES contacts ON DELETE CASCADE,
    definition_id uuid NOT NULL REFERENCES custom_field_definitions ON DELETE CASCADE,
    value         text NOT NULL,
    PRIMARY KEY (contact_id, definition_id)
);

-- +goose Down
DROP TABLE contact_custom_values, custom_field_definitions, contact_tags, tags, contacts, api_tokens, members, workspaces;
