-- +goose Up
-- The NAME order sorts by the whole display name (Contact.DisplayName): the channel profile
-- name, else first and last name, else the email, else the phone, else "Unknown contact".
-- 00001 stopped at the names, so contacts known only by email or phone sorted as ''.
ALTER TABLE contacts DROP COLUMN sort_name; -- drops the contacts_name index with it
ALTER TABLE contacts ADD COLUMN sort_name text GENERATED ALWAYS AS (lower(coalesce(
    nullif(btrim(profile_name), ''),
    nullif(btrim(coalesce(first_name, '') || ' ' || coalesce(last_name, '')), ''),
    email, phone, 'Unknown contact'))) STORED;
CREATE INDEX contacts_name ON contacts (workspace_id, sort_name, id);

-- +goose Down
ALTER TABLE contacts DROP COLUMN sort_name;
ALTER TABLE contacts ADD COLUMN sort_name text GENERATED ALWAYS AS (lower(coalesce(nullif(btrim(profile_name), ''),
    btrim(coalesce(first_name, '') || ' ' || coalesce(last_name, ''))))) STORED;
CREATE INDEX contacts_name ON contacts (workspace_id, sort_name, id);
