-- +goose Up
-- Merge snapshots get the store's own shape (db/snapshot.go): the contacts merged away under
-- "secondaries" (one for each merge so far) with their values by stable JSON names, phones
-- and emails as lists; what the merge changed on the primary under "primary", its phone and
-- email changes as list changes. Before, the snapshot held the domain struct under its Go
-- field names ("FirstName", "Phone"). Nothing is lost: every old key has its new place.
-- +goose StatementBegin
CREATE FUNCTION pg_temp.one_or_none(v jsonb) RETURNS jsonb LANGUAGE sql IMMUTABLE
    AS $$ SELECT CASE WHEN jsonb_typeof(v) = 'string' THEN jsonb_build_array(v) ELSE '[]'::jsonb END $$;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE FUNCTION pg_temp.list_change(ch jsonb) RETURNS jsonb LANGUAGE sql IMMUTABLE
    AS $$ SELECT CASE WHEN ch IS NULL OR jsonb_typeof(ch) <> 'object' THEN NULL
        ELSE jsonb_build_object('old', pg_temp.one_or_none(ch->'old'), 'new', pg_temp.one_or_none(ch->'new')) END $$;
-- +goose StatementEnd
UPDATE merges SET snapshot = jsonb_strip_nulls(jsonb_build_object(
    'secondaries', jsonb_build_array(jsonb_build_object(
        'contact', jsonb_build_object(
            'id', snapshot->'secondary'->'ID',
            'workspaceId', snapshot->'secondary'->'WorkspaceID',
            'firstName', snapshot->'secondary'->'FirstName',
            'lastName', snapshot->'secondary'->'LastName',
            'profileName', snapshot->'secondary'->'ProfileName',
            'profilePictureUrl', snapshot->'secondary'->'ProfilePictureURL',
            'phones', pg_temp.one_or_none(snapshot->'secondary'->'Phone'),
            'emails', pg_temp.one_or_none(snapshot->'secondary'->'Email'),
            'country', snapshot->'secondary'->'Country',
            'countryManual', coalesce(snapshot->'secondary'->'CountryManual', 'false'),
            'language', snapshot->'secondary'->'Language',
            'assigneeId', snapshot->'secondary'->'AssigneeID',
            'blockedAt', snapshot->'secondary'->'BlockedAt',
            'createdAt', snapshot->'secondary'->'CreatedAt',
            'updatedAt', snapshot->'secondary'->'UpdatedAt'),
        'custom', snapshot->'secondaryCustom',
        'customKeys', snapshot->'secondaryCustomKeys',
        'identities', snapshot->'secondaryIdentities',
        'tags', snapshot->'secondaryTags',
        'links', snapshot->'secondaryLinks',
        'conversations', snapshot->'secondaryConversations',
        'workflowRuns', snapshot->'secondaryWorkflowRuns',
        'closedConversation', snapshot->'closedConversation')),
    'primary', jsonb_build_object(
        'fields', coalesce(snapshot->'primaryFields', '{}') - 'phone' - 'email',
        'phones', pg_temp.list_change(snapshot->'primaryFields'->'phone'),
        'emails', pg_temp.list_change(snapshot->'primaryFields'->'email'),
        'countryManual', coalesce(snapshot->'primaryCountryManual', 'false'),
        'blockedAt', snapshot->'primaryBlockedAt',
        'mergedBlockedAt', snapshot->'mergedBlockedAt',
        'custom', snapshot->'primaryCustom',
        'addedTags', snapshot->'addedTags')))
WHERE snapshot ? 'secondary';

-- +goose Down
-- Back to the old shape: a contact's first phone and email (the others were not in it).
-- +goose StatementBegin
CREATE FUNCTION pg_temp.first_or_null(v jsonb) RETURNS jsonb LANGUAGE sql IMMUTABLE
    AS $$ SELECT CASE WHEN jsonb_typeof(v) = 'array' AND jsonb_array_length(v) > 0 THEN v->0 ELSE 'null'::jsonb END $$;
-- +goose StatementEnd
UPDATE merges SET snapshot = jsonb_build_object(
    'secondary', jsonb_build_object(
        'ID', s->'contact'->'id', 'WorkspaceID', s->'contact'->'workspaceId',
        'FirstName', s->'contact'->'firstName', 'LastName', s->'contact'->'lastName',
        'ProfileName', s->'contact'->'profileName', 'ProfilePictureURL', s->'contact'->'profilePictureUrl',
        'Phone', pg_temp.first_or_null(s->'contact'->'phones'), 'Email', pg_temp.first_or_null(s->'contact'->'emails'),
        'Country', s->'contact'->'country', 'CountryManual', s->'contact'->'countryManual',
        'Language', s->'contact'->'language', 'AssigneeID', s->'contact'->'assigneeId',
        'BlockedAt', s->'contact'->'blockedAt', 'CreatedAt', s->'contact'->'createdAt', 'UpdatedAt', s->'contact'->'updatedAt'),
    'secondaryCustom', s->'custom', 'secondaryCustomKeys', s->'customKeys', 'secondaryIdentities', s->'identities',
    'secondaryTags', s->'tags', 'secondaryLinks', s->'links', 'secondaryConversations', s->'conversations',
    'secondaryWorkflowRuns', s->'workflowRuns', 'closedConversation', s->'closedConversation',
    'primaryFields', coalesce(snapshot->'primary'->'fields', '{}') || jsonb_strip_nulls(jsonb_build_object(
        'phone', CASE WHEN snapshot->'primary' ? 'phones' THEN jsonb_build_object(
            'old', pg_temp.first_or_null(snapshot->'primary'->'phones'->'old'), 'new', pg_temp.first_or_null(snapshot->'primary'->'phones'->'new')) END,
        'email', CASE WHEN snapshot->'primary' ? 'emails' THEN jsonb_build_object(
            'old', pg_temp.first_or_null(snapshot->'primary'->'emails'->'old'), 'new', pg_temp.first_or_null(snapshot->'primary'->'emails'->'new')) END)),
    'primaryCountryManual', snapshot->'primary'->'countryManual', 'primaryBlockedAt', snapshot->'primary'->'blockedAt',
    'mergedBlockedAt', snapshot->'primary'->'mergedBlockedAt', 'primaryCustom', snapshot->'primary'->'custom',
    'addedTags', snapshot->'primary'->'addedTags')
FROM (SELECT id, snapshot->'secondaries'->0 AS s FROM merges WHERE snapshot ? 'secondaries') AS old
WHERE merges.id = old.id;
