-- +goose Up
-- A contact holds up to several phones and emails, in order. The primary stays in phone and
-- email (what the NAME order, the filters, the CSV's phone/email columns and the channel
-- rules read, as before); the values after it are in other_phones and other_emails. There
-- are no others without a primary. Nothing moves: today's values are the primaries.
ALTER TABLE contacts
    ADD COLUMN other_phones text[] NOT NULL DEFAULT '{}',
    ADD COLUMN other_emails text[] NOT NULL DEFAULT '{}',
    ADD CONSTRAINT contacts_other_phones_primary CHECK (phone IS NOT NULL OR other_phones = '{}'),
    ADD CONSTRAINT contacts_other_emails_primary CHECK (email IS NOT NULL OR other_emails = '{}');

-- Every phone of a contact, the primary first, as duplicate lookups match them.
-- +goose StatementBegin
CREATE FUNCTION contact_phone_keys(phone text, others text[]) RETURNS text[]
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$ SELECT CASE WHEN phone IS NULL THEN others ELSE array_prepend(phone, others) END $$;
-- +goose StatementEnd

-- Every email of a contact, trimmed and lower-cased, as duplicate lookups match them.
-- +goose StatementBegin
CREATE FUNCTION contact_email_keys(email text, others text[]) RETURNS text[]
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$ SELECT coalesce(array_agg(lower(btrim(e))), '{}') FROM unnest(array_prepend(email, others)) AS e WHERE e IS NOT NULL $$;
-- +goose StatementEnd

-- array_to_string is STABLE for any array type; for text[] it is immutable, as a generated
-- column needs.
-- +goose StatementBegin
CREATE FUNCTION contact_join(v text[]) RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$ SELECT array_to_string(v, ' ') $$;
-- +goose StatementEnd

-- Duplicate lookups by any value, among contacts that count (not blocked). The indexes on the
-- primaries stay for the lookups that read only those. fastupdate off: a lookup never scans
-- GIN's pending list of recent entries (after a bulk import of 1,000,000 contacts that list
-- made one lookup take 9 ms instead of 0.2 ms until the next vacuum); each write adds its one
-- to three keys to the index at once instead.
CREATE INDEX contacts_dup_phones ON contacts USING gin (contact_phone_keys(phone, other_phones))
    WITH (fastupdate = off) WHERE blocked_at IS NULL;
CREATE INDEX contacts_dup_emails ON contacts USING gin (contact_email_keys(email, other_emails))
    WITH (fastupdate = off) WHERE blocked_at IS NULL;

-- Search looks in every phone and email.
ALTER TABLE contacts DROP COLUMN search_text; -- drops contacts_search with it
ALTER TABLE contacts ADD COLUMN search_text text GENERATED ALWAYS AS (lower(coalesce(first_name, '') || ' ' ||
    coalesce(last_name, '') || ' ' || coalesce(profile_name, '') || ' ' || coalesce(email, '') || ' ' || coalesce(phone, '') ||
    ' ' || contact_join(other_emails) || ' ' || contact_join(other_phones))) STORED;
CREATE INDEX contacts_search ON contacts USING gin (search_text gin_trgm_ops);

-- +goose Down
ALTER TABLE contacts DROP COLUMN search_text;
ALTER TABLE contacts ADD COLUMN search_text text GENERATED ALWAYS AS (lower(coalesce(first_name, '') || ' ' || coalesce(last_name, '') || ' ' ||
    coalesce(profile_name, '') || ' ' || coalesce(email, '') || ' ' || coalesce(phone, ''))) STORED;
CREATE INDEX contacts_search ON contacts USING gin (search_text gin_trgm_ops);
DROP INDEX contacts_dup_phones, contacts_dup_emails;
ALTER TABLE contacts DROP COLUMN other_phones, DROP COLUMN other_emails;
DROP FUNCTION contact_phone_keys, contact_email_keys, contact_join;
