-- Fills one Rubrica workspace through SQL, keeping Rubrica's constraints (those of
-- db/migrations and the rules the services check: E.164 phones, lower-case email identifiers,
-- custom values of their field's type): 20 agents, 6 channels, 50 tags, 3 custom field
-- definitions, and :n contacts with names, email, phone (+39 333..., valid E.164), country,
-- language and an assignee; each with 3 channel links (WhatsApp/SMS by phone, email by
-- address, the others by a page-scoped id), 3 tags and 2 or 3 custom field values; with
-- :conv = 1 also one open conversation with one inbound message per contact. Phones and
-- emails are unique (offset :off), so there are no merge suggestions. About 14.5% of the
-- contacts match the search "mar". No events are written: this is data that was there.
--
-- The same as the side-by-side benchmark's fill.sql (outside this repository), except that
-- only the agents it adds are assigned (the workspace may have agents of its own).
-- dbtest.Fill runs it in one transaction; by hand:
--
--   psql -1 -v ON_ERROR_STOP=1 -v ws=<workspace uuid> -v n=100000 -v off=0 -v conv=0 -f fill.sql
INSERT INTO members (workspace_id, email, name, role)
SELECT :'ws', 'agent' || g || '@bench.test', 'Agent ' || g, 'AGENT' FROM generate_series(1, 20) g;

INSERT INTO channels (workspace_id, type, name, page_id, created_at)
SELECT :'ws', t, initcap(lower(t)), CASE WHEN t = 'FACEBOOK' THEN '1234567890' END,
       now() - interval '400 days' + make_interval(secs => i)
FROM unnest(ARRAY['WHATSAPP', 'SMS', 'EMAIL', 'FACEBOOK', 'INSTAGRAM', 'WEBCHAT']) WITH ORDINALITY AS u(t, i);

INSERT INTO tags (workspace_id, name, color)
SELECT :'ws', 'tag-' || g, '#' || lpad(to_hex(g * 300000), 6, '0') FROM generate_series(1, 50) g;

INSERT INTO custom_field_definitions (workspace_id, key, label, type, options) VALUES
    (:'ws', 'plan', 'Plan', 'LIST', ARRAY['Free', 'Pro', 'Enterprise']),
    (:'ws', 'score', 'Score', 'NUMBER', NULL),
    (:'ws', 'since', 'Customer since', 'DATE', NULL);

CREATE TEMP TABLE b_members ON COMMIT DROP AS
SELECT id, row_number() OVER (ORDER BY email) - 1 AS i FROM members
WHERE workspace_id = :'ws' AND role = 'AGENT' AND email ~ '^agent[0-9]+@bench\.test$';
CREATE TEMP TABLE b_channels ON COMMIT DROP AS
SELECT id, type, row_number() OVER (ORDER BY created_at) - 1 AS i FROM channels WHERE workspace_id = :'ws';
CREATE TEMP TABLE b_tags ON COMMIT DROP AS
SELECT id, row_number() OVER (ORDER BY name) - 1 AS i FROM tags WHERE workspace_id = :'ws';

-- ~10% of first names and 5% of last names contain "mar": a search for "mar" matches ~14.5%.
CREATE TEMP TABLE b_contacts ON COMMIT DROP AS
SELECT g, gen_random_uuid() AS id,
       (ARRAY['Maria','Marco','Giulia','Luca','Anna','Paolo','Sofia','Giorgio','Elena','Andrea',
              'Chiara','Francesco','Sara','Davide','Laura','Matteo','Alessia','Simone','Federica','Nicola'])[1 + g % 20] AS first_name,
       (ARRAY['Rossi','Bianchi','Marino','Ferrari','Romano','Colombo','Ricci','Greco','Bruno','Gallo',
              'Conti','Costa','Mancini','Giordano','Rizzo','Lombardi','Moretti','Barbieri','Fontana','Santoro'])[1 + (g / 20) % 20] AS last_name,
       '+39333' || lpad((:off + g)::text, 7, '0') AS phone,
       now() - make_interval(secs => (:n - g) * 30) AS created_at
FROM generate_series(1, :n) g;

INSERT INTO contacts (id, workspace_id, first_name, last_name, email, phone, country, language, assignee_id, created_at, updated_at)
SELECT c.id, :'ws', c.first_name, c.last_name,
       lower(c.first_name) || '.' || lower(c.last_name) || '.' || (:off + c.g) || '@example.com', c.phone,
       'IT', CASE WHEN c.g % 4 = 0 THEN 'en' ELSE 'it' END, m.id, c.created_at, c.created_at
FROM b_contacts c JOIN b_members m ON m.i = c.g % 20;

INSERT INTO contact_channels (workspace_id, contact_id, channel_id, identifier, connected_at, last_interaction_at)
SELECT :'ws', c.id, ch.id,
       CASE ch.type WHEN 'WHATSAPP' THEN c.phone WHEN 'SMS' THEN c.phone
                    WHEN 'EMAIL' THEN lower(c.first_name) || '.' || lower(c.last_name) || '.' || (:off + c.g) || '@example.com'
                    ELSE (10000000000 + :off + c.g)::text END,
       c.created_at, c.created_at + make_interval(mins => k)
FROM b_contacts c, generate_series(0, 2) k, b_channels ch
WHERE ch.i = (c.g + k) % 6;

INSERT INTO contact_tags (contact_id, tag_id)
SELECT c.id, t.id FROM b_contacts c, generate_series(0, 2) k, b_tags t WHERE t.i = (c.g * 7 + k * 13) % 50;

INSERT INTO contact_custom_values (contact_id, definition_id, value)
SELECT c.id, d.id,
       CASE d.key WHEN 'plan' THEN (ARRAY['Free', 'Pro', 'Enterprise'])[1 + c.g % 3]
                  WHEN 'score' THEN (c.g % 100)::text
                  ELSE to_char(date '2020-01-01' + (c.g % 1500), 'YYYY-MM-DD') END
FROM b_contacts c JOIN custom_field_definitions d ON d.workspace_id = :'ws'
WHERE d.key <> 'since' OR c.g % 2 = 0;

-- With :conv = 1: an open conversation per contact on its first linked channel, one message.
CREATE TEMP TABLE b_conv ON COMMIT DROP AS
SELECT gen_random_uuid() AS id, c.id AS contact_id, l.channel_id, l.identifier, c.created_at
FROM b_contacts c
JOIN LATERAL (SELECT channel_id, identifier FROM contact_channels WHERE contact_id = c.id ORDER BY connected_at LIMIT 1) l ON true
WHERE :conv = 1;
INSERT INTO conversations (id, workspace_id, contact_id, channel_id, status, created_at)
SELECT id, :'ws', contact_id, channel_id, 'OPEN', created_at FROM b_conv;
INSERT INTO messages (workspace_id, conversation_id, channel_id, identifier, direction, text, sent_at, created_at)
SELECT :'ws', id, channel_id, identifier, 'INBOUND', 'hello', created_at, created_at FROM b_conv;
