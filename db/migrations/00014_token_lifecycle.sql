-- +goose Up
-- Tokens get a life cycle: an id to name them by (the hash stays the lookup key and the only
-- form a token is stored in), an optional expiry and a revocation mark.
ALTER TABLE api_tokens
    ADD COLUMN id         uuid NOT NULL DEFAULT gen_random_uuid() UNIQUE,
    ADD COLUMN expires_at timestamptz,
    ADD COLUMN revoked_at timestamptz;
CREATE INDEX api_tokens_member ON api_tokens (member_id, created_at);

-- Members are removed softly: the row stays, so that history (a merge's mergedBy, undoneBy)
-- still names who acted; a removed member authenticates no more and is assigned nothing.
-- Their email is free again for a new member of the workspace.
ALTER TABLE members ADD COLUMN removed_at timestamptz;
DROP INDEX members_workspace_email;
CREATE UNIQUE INDEX members_workspace_email ON members (workspace_id, lower(email)) WHERE removed_at IS NULL;

-- +goose Down
DROP INDEX members_workspace_email;
CREATE UNIQUE INDEX members_workspace_email ON members (workspace_id, lower(email));
ALTER TABLE members DROP COLUMN removed_at;
DROP INDEX api_tokens_member;
ALTER TABLE api_tokens DROP COLUMN id, DROP COLUMN expires_at, DROP COLUMN revoked_at;
