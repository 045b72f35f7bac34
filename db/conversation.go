package db

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"rubrica"
)

// ConversationService implements rubrica.ConversationService.
type ConversationService struct {
	db *DB
}

var _ rubrica.ConversationService = (*ConversationService)(nil)

type conversationRow struct {
	ID          string         `db:"id"`
	WorkspaceID string         `db:"workspace_id"`
	ContactID   string         `db:"contact_id"`
	ChannelID   sql.NullString `db:"channel_id"`
	Status      string         `db:"status"`
	CreatedAt   time.Time      `db:"created_at"`
	ClosedAt    sql.NullTime   `db:"closed_at"`
	Hidden      bool           `db:"hidden"`
}

const conversationColumns = `cv.id, cv.workspace_id, cv.contact_id, cv.channel_id, cv.status, cv.created_at, cv.closed_at, cv.hidden`

func (r *conversationRow) conversation() *rubrica.Conversation {
	c := &rubrica.Conversation{ID: r.ID, WorkspaceID: r.WorkspaceID, ContactID: r.ContactID, ChannelID: nullable(r.ChannelID),
		Status: rubrica.ConversationStatus(r.Status), CreatedAt: r.CreatedAt, Hidden: r.Hidden}
	if r.ClosedAt.Valid {
		t := r.ClosedAt.Time
		c.ClosedAt = &t
	}
	return c
}

type messageRow struct {
	ID             string         `db:"id"`
	ConversationID string         `db:"conversation_id"`
	ChannelID      sql.NullString `db:"channel_id"`
	Identifier     string         `db:"identifier"`
	Direction      string         `db:"direction"`
	Text           string         `db:"text"`
	SentAt         time.Time      `db:"sent_at"`
	ExternalID     sql.NullString `db:"external_id"`
}

const messageColumns = `m.id, m.conversation_id, m.channel_id, m.identifier, m.direction, m.text, m.sent_at, m.external_id`

func (r *messageRow) message() *rubrica.Message {
	return &rubrica.Message{ID: r.ID, ConversationID: r.ConversationID, ChannelID: nullable(r.ChannelID), Identifier: r.Identifier,
		Direction: rubrica.MessageDirection(r.Direction), Text: r.Text, SentAt: r.SentAt, ExternalID: nullable(r.ExternalID)}
}

// lockKey serialises the transactions that handle the same key (a channel identity or a
// provider's message id) until they commit.
func lockKey(ctx context.Context, tx *sqlx.Tx, key string) error {
	if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock(hashtextextended($1, 0))`, key); err != nil {
		return fmt.Errorf("db: lock %q: %w", key, err)
	}
	return nil
}

func checkText(text string) error {
	if len(text) > rubrica.MaxMessageLength {
		return rubrica.InvalidField("text", "a message is at most %d bytes.", rubrica.MaxMessageLength)
	}
	return nil
}

// ReceiveMessage records an inbound message. A message from a linked identity is one
// statement (receiveLinkedSQL); any other takes a transaction. First messages from one new
// identity racing each other are not serialised by a lock: the unique link of an identifier
// on a channel lets one of them link it, and the others, whose link insert waited for that
// one's commit and failed, are received again through the new link (errLinkedMeanwhile).
func (s *ConversationService) ReceiveMessage(ctx context.Context, in rubrica.InboundMessage) (*rubrica.Received, error) {
	a, err := rubrica.RequireActor(ctx)
	if err != nil {
		return nil, err
	}
	if err := checkText(in.Text); err != nil {
		return nil, err
	}
	sentAt := time.Now()
	if in.SentAt != nil {
		sentAt = *in.SentAt
	}
	var externalID *string
	if in.ExternalID != nil && strings.TrimSpace(*in.ExternalID) != "" {
		e := strings.TrimSpace(*in.ExternalID)
		if len(e) > 255 {
			return nil, rubrica.InvalidField("externalId", "an external id is at most 255 characters.")
		}
		externalID = &e
	}
	chType, err := s.db.channelTypeOf(ctx, s.db, a.WorkspaceID, in.ChannelID)
	if err != nil {
		return nil, err
	}
	ch := &rubrica.Channel{ID: in.ChannelID, WorkspaceID: a.WorkspaceID, Type: chType}
	identifier, err := rubrica.NormalizeIdentifier(ch.Type, in.Identifier)
	if err != nil {
		return nil, err
	}
	if externalID == nil {
		if r, ok, err := s.receiveLinked(ctx, ch, identifier, in.Text, sentAt); err != nil || ok {
			return r, err
		}
	}
	var r rubrica.Received
	receive := func(tx *sqlx.Tx) error {
		r = rubrica.Received{}
		if externalID != nil {
			if err := lockKey(ctx, tx, "message:"+ch.ID+":"+*externalID); err != nil {
				return err
			}
			var row messageRow
			err := tx.GetContext(ctx, &row, `SELECT `+messageColumns+` FROM messages m WHERE m.channel_id = $1 AND m.external_id = $2`, ch.ID, *externalID)
			if err == nil {
				r.Duplicate, r.Message = true, row.message()
				if r.Conversation, err = findConversation(ctx, tx, a.WorkspaceID, row.ConversationID, false); err != nil {
					return err
				}
				r.Contact, err = findContact(ctx, tx, a.WorkspaceID, r.Conversation.ContactID, false)
				return err
			} else if !errors.Is(err, sql.ErrNoRows) {
				return fmt.Errorf("db: find message by external id: %w", err)
			}
		}
		link, linked, identity, err := lockLinkedContact(ctx, tx, a.WorkspaceID, ch.ID, identifier)
		var relinked bool
		var holder *rubrica.Contact // the contact an automatic merge merges a new contact into
		switch {
		case err != nil:
			return err
		case link == nil:
			// Not linked. An identity a member unlinked is remembered by its messages: it
			// links again to the contact of its latest message. Otherwise a new contact.
			if previous := identity.Previous.String; previous != "" {
				if r.Contact, err = findContact(ctx, tx, a.WorkspaceID, previous, true); err != nil {
					return err
				}
				if r.Contact.Blocked() {
					// Hidden, and not linked again: nothing a member sees changes.
					r.Conversation, r.Message, err = receiveHidden(ctx, tx, r.Contact, ch.ID, identifier, in.Text, sentAt, externalID)
					return err
				}
			} else {
				if r.Contact, err = rubrica.ContactFromProfile(a.WorkspaceID, ch.Type, identifier, in.Profile); err != nil {
					return err
				}
				if holder, err = autoMergeHolder(ctx, tx, a.WorkspaceID, identity.autoMerge(), ch, identifier, r.Contact); err != nil {
					return err
				}
				if holder == nil {
					r.ContactCreated = true
					r.Conversation, r.Message, err = createFromFirstMessage(ctx, tx, r.Contact, ch.ID, identifier, in.Text, sentAt, externalID)
					return err
				}
				if err := insertContact(ctx, tx, r.Contact); err != nil {
					return err
				}
				r.ContactCreated = true
			}
			relinked = true
		default:
			r.Contact = linked
			if r.Contact.Blocked() {
				// Stored but hidden: no conversation opens, no interaction time moves, no event.
				r.Conversation, r.Message, err = receiveHidden(ctx, tx, r.Contact, ch.ID, identifier, in.Text, sentAt, externalID)
				return err
			}
		}
		opened := true
		switch {
		case holder != nil: // merged at once into the one contact holding its number or email
			if err = insertLink(ctx, tx, r.Contact, ch.ID, identifier, sentAt); err != nil {
				return err
			}
			if r.Contact, err = autoMerge(ctx, tx, a.WorkspaceID, holder, r.Contact); err != nil {
				return err
			}
			r.ContactCreated, relinked = false, false
			r.Conversation, opened, err = openConversation(ctx, tx, r.Contact, ch.ID)
		case relinked:
			if err = insertLink(ctx, tx, r.Contact, ch.ID, identifier, sentAt); err == nil {
				r.Conversation, opened, err = openConversation(ctx, tx, r.Contact, ch.ID)
			}
		default:
			r.Conversation, opened, err = touchLink(ctx, tx, link.ID, r.Contact, ch.ID, sentAt)
		}
		if err != nil {
			return err
		}
		if r.Message, err = insertMessage(ctx, tx, a.WorkspaceID, r.Conversation.ID, ch.ID, identifier, rubrica.Inbound, in.Text, sentAt, externalID); err != nil {
			return err
		}
		var events []rubrica.Event
		switch {
		case relinked: // linked again after a member removed the link
			events = append(events, newEvent(a.WorkspaceID, rubrica.KindContactChannel, rubrica.ChannelLinked, r.Contact.ID, &ch.ID))
			if opened {
				events = append(events, newEvent(a.WorkspaceID, rubrica.KindContact, rubrica.ContactUpdated, r.Contact.ID, nil))
			}
		case opened: // the conversation status changed
			events = append(events, newEvent(a.WorkspaceID, rubrica.KindContact, rubrica.ContactUpdated, r.Contact.ID, nil))
		}
		return publish(ctx, tx, events...)
	}
	for range 3 {
		// Linked meanwhile, by a racing first message or a send: through the link now.
		if err = s.db.inTx(ctx, receive); !errors.Is(err, errLinkedMeanwhile) {
			break
		}
	}
	if errors.Is(err, errLinkedMeanwhile) {
		return nil, &rubrica.Error{Code: rubrica.ECONFLICT, Message: "The identity kept being linked and unlinked; try again."}
	} else if err != nil {
		return nil, err
	}
	return &r, nil
}

// receiveLinkedSQL receives a message from an identity linked to an unblocked contact with
// an open conversation, the common case, in one statement, so in one transaction and one
// round trip: it locks the contact and the link as lockLinkedContact does, inserts the
// message into the open conversation and moves the link's last interaction, which is all
// the general path does for such a message (no event: nothing a subscriber sees changes).
// Anything else (no link, a blocked contact, no open conversation, a link moved by a merge
// while this waited: the locked rows no longer join) inserts nothing and returns no row, and
// the message takes the general path in a transaction of its own. A linked identity's
// messages are ordered by the link's row lock; a first message linking the identity meanwhile
// is not visible yet, so this finds no link, and the general path's link insert waits for
// that one's commit on the link's unique key (see ReceiveMessage). $1 channel, $2 identifier,
// $3 workspace, $4 text, $5 sent.
var receiveLinkedSQL = `WITH c AS (SELECT ` + contactColumns + `, l.id AS link_id
		FROM contact_channels l JOIN contacts c ON c.id = l.contact_id
		WHERE l.channel_id = $1 AND l.identifier = $2 AND c.workspace_id = $3 AND c.blocked_at IS NULL
		FOR UPDATE OF c FOR NO KEY UPDATE OF l),
	cv AS (SELECT ` + conversationColumns + ` FROM conversations cv JOIN c ON cv.contact_id = c.id WHERE cv.status = 'OPEN'),
	m AS (INSERT INTO messages AS m (workspace_id, conversation_id, channel_id, identifier, direction, text, sent_at)
		SELECT cv.workspace_id, cv.id, $1, $2, 'INBOUND', $4, $5 FROM cv RETURNING ` + messageColumns + `),
	touched AS (UPDATE contact_channels SET last_interaction_at = greatest(last_interaction_at, $5)
		WHERE id = (SELECT link_id FROM c) AND EXISTS (SELECT FROM m))
	SELECT ` + aliased(contactColumns) + `, ` + aliased(conversationColumns) + `, ` + aliased(messageColumns) + ` FROM c, cv, m`

// linkedReceipt is what receiveLinkedSQL returns.
type linkedReceipt struct {
	Contact      contactRow      `db:"c"`
	Conversation conversationRow `db:"cv"`
	Message      messageRow      `db:"m"`
}

// receiveLinked receives a message without an external id from identifier on ch by
// receiveLinkedSQL; ok is false when the message needs the general path.
func (s *ConversationService) receiveLinked(ctx context.Context, ch *rubrica.Channel, identifier, text string, sentAt time.Time) (r *rubrica.Received, ok bool, err error) {
	var row linkedReceipt
	err = s.db.GetContext(ctx, &row, receiveLinkedSQL, ch.ID, identifier, ch.WorkspaceID, text, sentAt)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, false, nil
	} else if err != nil {
		return nil, false, translate(fmt.Errorf("db: receive from a linked identity: %w", err))
	}
	return &rubrica.Received{Contact: row.Contact.contact(), Conversation: row.Conversation.conversation(), Message: row.Message.message()}, true, nil
}

// identityRow is what readIdentity reads of an identity on a channel.
type identityRow struct {
	Channel        bool           `db:"channel"`          // the channel exists in the workspace
	LinkID         sql.NullString `db:"link_id"`          // its link, if linked
	Linked         sql.NullString `db:"linked"`           // the contact of the link
	Previous       sql.NullString `db:"previous"`         // not linked: the contact of its latest message, if any
	AutoMergePhone bool           `db:"auto_merge_phone"` // the workspace's automatic merges
	AutoMergeEmail bool           `db:"auto_merge_email"`
}

// autoMerge returns the workspace's automatic merge settings read with the identity.
func (r *identityRow) autoMerge() rubrica.AutoMergeSettings {
	return rubrica.AutoMergeSettings{VerifiedPhone: r.AutoMergePhone, VerifiedEmail: r.AutoMergeEmail}
}

// readIdentity reads, in one statement, whether the channel exists in the workspace, the link
// of the identity on it and, when it has none, the contact of its latest message (after
// removeContactChannel, the messages still know whose the identity was), and the workspace's
// automatic merge settings. No channel: NOT_FOUND on channelId.
func readIdentity(ctx context.Context, tx *sqlx.Tx, workspaceID, channelID, identifier string) (*identityRow, error) {
	const q = `SELECT true AS channel, l.id AS link_id, l.contact_id AS linked,
			CASE WHEN l.id IS NULL THEN (SELECT cv.contact_id FROM messages m JOIN conversations cv ON cv.id = m.conversation_id
				WHERE m.channel_id = ch.id AND m.identifier = $3 ORDER BY m.created_at DESC, m.id DESC LIMIT 1) END AS previous,
			w.auto_merge_phone, w.auto_merge_email
		FROM channels ch JOIN workspaces w ON w.id = ch.workspace_id
			LEFT JOIN contact_channels l ON l.channel_id = ch.id AND l.identifier = $3
		WHERE ch.id = $1 AND ch.workspace_id = $2`
	var row identityRow
	if err := tx.GetContext(ctx, &row, q, channelID, workspaceID, identifier); errors.Is(err, sql.ErrNoRows) {
		return nil, rubrica.NotFound("channelId", "Channel")
	} else if err != nil {
		return nil, fmt.Errorf("db: find identity: %w", err)
	}
	return &row, nil
}

// lockLinkedContact returns the link of an identity and its contact, locked, or, when it has
// no link, nil and nil; the identity as readIdentity read it last in both cases. The contact and the link are
// locked in one statement, contact first, and its join is checked again on their latest
// versions once locked (PostgreSQL rechecks a locked row that changed): merges, undos, sends
// and unlinks lock contacts before their links, so a message racing them waits instead of
// deadlocking, and a link that moved or went while it waited is read anew.
func lockLinkedContact(ctx context.Context, tx *sqlx.Tx, workspaceID, channelID, identifier string) (link *linkRow, c *rubrica.Contact, id *identityRow, err error) {
	const q = `SELECT ` + contactColumns + ` FROM contacts c JOIN contact_channels l ON l.contact_id = c.id
		WHERE c.id = $1 AND c.workspace_id = $2 AND l.id = $3 FOR UPDATE OF c FOR NO KEY UPDATE OF l`
	for range 10 {
		if id, err = readIdentity(ctx, tx, workspaceID, channelID, identifier); err != nil {
			return nil, nil, nil, err
		}
		if !id.LinkID.Valid {
			return nil, nil, id, nil
		}
		var row contactRow
		err = tx.GetContext(ctx, &row, q, id.Linked.String, workspaceID, id.LinkID.String)
		if errors.Is(err, sql.ErrNoRows) {
			continue // merged away, moved or unlinked while this waited
		} else if err != nil {
			return nil, nil, nil, fmt.Errorf("db: lock linked contact: %w", err)
		}
		return &linkRow{ID: id.LinkID.String, ContactID: id.Linked.String, ChannelID: channelID, Identifier: identifier}, row.contact(), id, nil
	}
	return nil, nil, nil, &rubrica.Error{Code: rubrica.ECONFLICT, Message: "The contact of this identity kept changing; try again."}
}

// openConversation returns the contact's open conversation, opening one on the channel when
// there is none. The contact must be locked by the caller.
func openConversation(ctx context.Context, tx *sqlx.Tx, c *rubrica.Contact, channelID string) (cv *rubrica.Conversation, opened bool, err error) {
	var row conversationRow
	err = tx.GetContext(ctx, &row, `SELECT `+conversationColumns+` FROM conversations cv WHERE cv.contact_id = $1 AND cv.status = 'OPEN'`, c.ID)
	if errors.Is(err, sql.ErrNoRows) {
		cv, err := insertConversation(ctx, tx, c, channelID)
		return cv, true, err
	} else if err != nil {
		return nil, false, fmt.Errorf("db: open conversation: %w", err)
	}
	return row.conversation(), false, nil
}

// linkStatement links an identity to a contact ($1 workspace, $2 contact, $3 channel, $4
// identifier, $5 time of the message).
const linkStatement = `INSERT INTO contact_channels (workspace_id, contact_id, channel_id, identifier, connected_at, last_interaction_at)
	VALUES ($1, $2, $3, $4, $5, $5)`

// linkedMeanwhile is errLinkedMeanwhile when err is the unique violation of an identity's
// link (another transaction linked it first), else err.
func linkedMeanwhile(err error) error {
	var pqErr *pq.Error
	if errors.As(err, &pqErr) && pqErr.Code == "23505" && pqErr.Constraint == "contact_channels_channel_id_identifier_key" {
		return errLinkedMeanwhile
	}
	return err
}

// insertLink links an identity to a contact.
func insertLink(ctx context.Context, tx *sqlx.Tx, c *rubrica.Contact, channelID, identifier string, at time.Time) error {
	if _, err := tx.ExecContext(ctx, linkStatement, c.WorkspaceID, c.ID, channelID, identifier, at); err != nil {
		return linkedMeanwhile(fmt.Errorf("db: link channel: %w", err))
	}
	return nil
}

// firstMessageSQL creates the contact of a first message (namedInsert's parameters) with its
// link, its first conversation, the message and the events CREATED and LINKED, and takes the
// first locks of its suggestions refresh (firstLocksSQL of :dup_ws and :dup_ids; none when
// empty), in one statement. The contact is new, so no other transaction sees it before this
// one commits: its events need no lock to be in order (see publish). The locks are taken by
// the main query, and so before the link is inserted (an unreferenced data-modifying WITH runs
// after the main query): a racing first message of the same identity waits for them, not
// for the link's unique key while holding them.
var firstMessageSQL = `WITH c AS (` + namedInsert([]string{"workspace_id", "assignee_id"}, nil, ` RETURNING id, workspace_id, created_at, updated_at`) + `),
	l AS (INSERT INTO contact_channels (workspace_id, contact_id, channel_id, identifier, connected_at, last_interaction_at)
		SELECT c.workspace_id, c.id, :channel_id, :identifier, :sent_at, :sent_at FROM c),
	cv AS (INSERT INTO conversations AS cv (workspace_id, contact_id, channel_id, status)
		SELECT c.workspace_id, c.id, :channel_id, 'OPEN' FROM c RETURNING ` + conversationColumns + `),
	m AS (INSERT INTO messages AS m (workspace_id, conversation_id, channel_id, identifier, direction, text, sent_at, external_id)
		SELECT cv.workspace_id, cv.id, cv.channel_id, :identifier, :direction, :text, :sent_at, :external_id FROM cv
		RETURNING ` + messageColumns + `),
	e AS (INSERT INTO events (workspace_id, kind, type, contact_id, subject_id)
		SELECT c.workspace_id, k.kind, k.type, c.id, k.subject FROM c,
			(VALUES (1, :created_kind, :created_type, NULL), (2, :linked_kind, :linked_type, CAST(:channel_id AS uuid))) AS k (n, kind, type, subject)
		ORDER BY k.n)
	SELECT c.id AS "c.id", c.created_at AS "c.created_at", c.updated_at AS "c.updated_at", ` +
	aliased(conversationColumns) + `, ` + aliased(messageColumns) + `
	FROM c, cv, m, (SELECT count(*) FROM (` + firstLocksSQL(":dup_ws", ":dup_ids") + `) AS l) AS locks`

// createFromFirstMessage stores c, the new contact of a first message, by firstMessageSQL,
// sets its id and times, and refreshes its suggestions. The refresh's first locks come with
// the statement unless the refresh needs the exclusive mode (then it takes that after).
func createFromFirstMessage(ctx context.Context, tx *sqlx.Tx, c *rubrica.Contact, channelID, identifier, text string,
	sentAt time.Time, externalID *string) (*rubrica.Conversation, *rubrica.Message, error) {
	names := keyLockNames(c)
	locks, ids := planDupLocks(tx, c.WorkspaceID, names)
	args := contactValues(c)
	args["dup_ws"], args["dup_ids"] = "duplicates:"+c.WorkspaceID, pq.Array(ids)
	for k, v := range map[string]any{"channel_id": channelID, "identifier": identifier, "direction": string(rubrica.Inbound),
		"text": text, "sent_at": sentAt, "external_id": externalID,
		"created_kind": string(rubrica.KindContact), "created_type": rubrica.ContactCreated,
		"linked_kind": string(rubrica.KindContactChannel), "linked_type": rubrica.ChannelLinked} {
		args[k] = v
	}
	bound, params, err := sqlx.Named(firstMessageSQL, args)
	if err != nil {
		return nil, nil, err
	}
	var row struct {
		ID           string          `db:"c.id"`
		CreatedAt    time.Time       `db:"c.created_at"`
		UpdatedAt    time.Time       `db:"c.updated_at"`
		Conversation conversationRow `db:"cv"`
		Message      messageRow      `db:"m"`
	}
	if err := tx.GetContext(ctx, &row, tx.Rebind(bound), params...); err != nil {
		return nil, nil, linkedMeanwhile(fmt.Errorf("db: create the contact of a first message: %w", err))
	}
	c.ID, c.CreatedAt, c.UpdatedAt = row.ID, row.CreatedAt, row.UpdatedAt
	publishedTxs.Store(tx, struct{}{})
	switch {
	case len(names) == 0: // no phone or email: no suggestion to refresh
	case locks.exclusive:
		err = refreshNewContacts(ctx, tx, c.WorkspaceID, c)
	default:
		locks.hold(ids)
		err = refreshHolding(ctx, tx, c.WorkspaceID, locks, nil, []*rubrica.Contact{c}, nil)
	}
	if err != nil {
		return nil, nil, err
	}
	return row.Conversation.conversation(), row.Message.message(), nil
}

// touchLink moves a link's last interaction to a message's time and returns the contact's
// open conversation, in one statement; with none open, it opens one on the channel.
func touchLink(ctx context.Context, tx *sqlx.Tx, linkID string, c *rubrica.Contact, channelID string, at time.Time) (cv *rubrica.Conversation, opened bool, err error) {
	const q = `WITH touched AS (UPDATE contact_channels SET last_interaction_at = greatest(last_interaction_at, $2) WHERE id = $1)
		SELECT ` + conversationColumns + ` FROM conversations cv WHERE cv.contact_id = $3 AND cv.status = 'OPEN'`
	var row conversationRow
	err = tx.GetContext(ctx, &row, q, linkID, at, c.ID)
	if errors.Is(err, sql.ErrNoRows) {
		cv, err := insertConversation(ctx, tx, c, channelID)
		return cv, true, err
	} else if err != nil {
		return nil, false, fmt.Errorf("db: refresh channel link: %w", err)
	}
	return row.conversation(), false, nil
}

// insertConversation opens a conversation of a contact that has no open one.
func insertConversation(ctx context.Context, tx *sqlx.Tx, c *rubrica.Contact, channelID string) (*rubrica.Conversation, error) {
	var row conversationRow
	const q = `INSERT INTO conversations AS cv (workspace_id, contact_id, channel_id, status) VALUES ($1, $2, $3, 'OPEN') RETURNING ` + conversationColumns
	if err := tx.GetContext(ctx, &row, q, c.WorkspaceID, c.ID, channelID); err != nil {
		return nil, fmt.Errorf("db: open conversation: %w", err)
	}
	return row.conversation(), nil
}

func insertMessage(ctx context.Context, tx *sqlx.Tx, workspaceID, conversationID, channelID, identifier string,
	dir rubrica.MessageDirection, text string, sentAt time.Time, externalID *string) (*rubrica.Message, error) {
	var row messageRow
	const q = `INSERT INTO messages AS m (workspace_id, conversation_id, channel_id, identifier, direction, text, sent_at, external_id)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING ` + messageColumns
	if err := tx.GetContext(ctx, &row, q, workspaceID, conversationID, channelID, identifier, string(dir), text, sentAt, externalID); err != nil {
		return nil, fmt.Errorf("db: insert message: %w", err)
	}
	return row.message(), nil
}

// SendMessage records an outbound message on the channel, or on the default channel: the one
// of the latest interaction, else the first connectable channel in the order WhatsApp, SMS,
// email. Sending on an INACTIVE channel connects it; an UNAVAILABLE one is refused.
func (s *ConversationService) SendMessage(ctx context.Context, contactID string, channelID, identifier *string, text string) (*rubrica.Sent, error) {
	a, err := rubrica.RequireActor(ctx)
	if err != nil {
		return nil, err
	}
	if err := checkText(text); err != nil {
		return nil, err
	}
	if strings.TrimSpace(text) == "" {
		return nil, rubrica.InvalidField("text", "a message needs some text.")
	}
	var sent rubrica.Sent
	err = s.db.inTx(ctx, func(tx *sqlx.Tx) error {
		c, err := findContact(ctx, tx, a.WorkspaceID, contactID, true)
		if err != nil {
			return withField(err, "contactId")
		}
		if c.Blocked() {
			return rubrica.InvalidField("contactId", "The contact is blocked: unblock it before writing to it.")
		}
		sent.Contact = c
		links, err := findLinks(ctx, tx, a.WorkspaceID, []string{c.ID})
		if err != nil {
			return err
		}
		if channelID != nil {
			if sent.Channel, err = findChannel(ctx, tx, a.WorkspaceID, *channelID, "channelId"); err != nil {
				return err
			}
		} else if sent.Channel, err = defaultChannel(ctx, tx, c, links); err != nil {
			return err
		}
		ch := sent.Channel
		var on []*rubrica.ChannelLink
		for _, l := range links {
			if l.ChannelID == ch.ID {
				on = append(on, l)
			}
		}
		cc := rubrica.ContactChannelOf(c, ch, on)
		if identifier != nil {
			if err := rubrica.PickIdentifier(cc, on, *identifier); err != nil {
				return err
			}
		}
		now := time.Now()
		switch cc.Status {
		case rubrica.StatusUnavailable:
			return rubrica.InvalidField("channelId", "%s cannot reach this contact until the contact writes there first.", ch.Name)
		case rubrica.StatusInactive:
			const q = `INSERT INTO contact_channels (workspace_id, contact_id, channel_id, identifier, connected_at, last_interaction_at)
				VALUES ($1, $2, $3, $4, $5, $5) ON CONFLICT (channel_id, identifier) DO NOTHING`
			res, err := tx.ExecContext(ctx, q, a.WorkspaceID, c.ID, ch.ID, *cc.Identifier, now)
			if err != nil {
				return fmt.Errorf("db: connect channel: %w", err)
			}
			if n, _ := res.RowsAffected(); n == 0 {
				return &rubrica.Error{Code: rubrica.ECONFLICT, Field: "channelId",
					Message: fmt.Sprintf("%s is linked on %s to another contact: merge the two contacts first.", *cc.Identifier, ch.Name)}
			}
			sent.Connected = true
		case rubrica.StatusActive:
			const q = `UPDATE contact_channels SET last_interaction_at = greatest(last_interaction_at, $3)
				WHERE contact_id = $1 AND channel_id = $2 AND identifier = $4`
			if _, err := tx.ExecContext(ctx, q, c.ID, ch.ID, now, *cc.Identifier); err != nil {
				return fmt.Errorf("db: refresh channel link: %w", err)
			}
		}
		var opened bool
		if sent.Conversation, opened, err = openConversation(ctx, tx, c, ch.ID); err != nil {
			return err
		}
		if sent.Message, err = insertMessage(ctx, tx, a.WorkspaceID, sent.Conversation.ID, ch.ID, *cc.Identifier, rubrica.Outbound, text, now, nil); err != nil {
			return err
		}
		var events []rubrica.Event
		if sent.Connected {
			events = append(events, newEvent(a.WorkspaceID, rubrica.KindContactChannel, rubrica.ChannelLinked, c.ID, &ch.ID))
		}
		if opened {
			events = append(events, newEvent(a.WorkspaceID, rubrica.KindContact, rubrica.ContactUpdated, c.ID, nil))
		}
		return publish(ctx, tx, events...)
	})
	if err != nil {
		return nil, err
	}
	return &sent, nil
}

// defaultChannel picks the channel of the latest interaction, else the first connectable
// channel in rubrica.DefaultChannelOrder (oldest channel first within a type).
func defaultChannel(ctx context.Context, tx *sqlx.Tx, c *rubrica.Contact, links []*rubrica.ChannelLink) (*rubrica.Channel, error) {
	channels, err := findChannels(ctx, tx, c.WorkspaceID)
	if err != nil {
		return nil, err
	}
	byID := make(map[string]*rubrica.Channel, len(channels))
	for _, ch := range channels {
		byID[ch.ID] = ch
	}
	var latest *rubrica.ChannelLink
	for _, l := range links {
		if latest == nil || l.LastInteractionAt.After(latest.LastInteractionAt) {
			latest = l
		}
	}
	if latest != nil {
		return byID[latest.ChannelID], nil
	}
	for _, t := range rubrica.DefaultChannelOrder {
		for _, ch := range channels {
			if ch.Type == t && rubrica.ContactChannelOf(c, ch, nil).CanConnect() {
				return ch, nil
			}
		}
	}
	return nil, rubrica.InvalidField("channelId", "No channel can reach this contact: it has no phone or email for WhatsApp, SMS or email, and has not written on any channel.")
}

// CloseConversation closes a conversation of the workspace; closing a closed one changes nothing.
func (s *ConversationService) CloseConversation(ctx context.Context, id string) (*rubrica.Conversation, error) {
	a, err := rubrica.RequireActor(ctx)
	if err != nil {
		return nil, err
	}
	var cv *rubrica.Conversation
	err = s.db.inTx(ctx, func(tx *sqlx.Tx) error {
		if cv, err = findConversation(ctx, tx, a.WorkspaceID, id, true); err != nil {
			return err
		}
		if cv.Hidden {
			return rubrica.NotFound("id", "Conversation")
		}
		if cv.Status == rubrica.ConversationClosed {
			return nil
		}
		var row conversationRow
		const q = `UPDATE conversations cv SET status = 'CLOSED', closed_at = clock_timestamp() WHERE id = $1 RETURNING ` + conversationColumns
		if err := tx.GetContext(ctx, &row, q, cv.ID); err != nil {
			return fmt.Errorf("db: close conversation: %w", err)
		}
		cv = row.conversation()
		return publish(ctx, tx, newEvent(a.WorkspaceID, rubrica.KindContact, rubrica.ContactUpdated, cv.ContactID, nil))
	})
	return cv, err
}

func findConversation(ctx context.Context, q sqlx.QueryerContext, workspaceID, id string, lock bool) (*rubrica.Conversation, error) {
	row, err := getByID[conversationRow](ctx, q, "Conversation", "id",
		`SELECT `+conversationColumns+` FROM conversations cv WHERE cv.id = $1 AND cv.workspace_id = $2`+forUpdate(lock), id, workspaceID)
	if err != nil {
		return nil, err
	}
	return row.conversation(), nil
}

// FindConversationByID returns a conversation of the workspace.
func (s *ConversationService) FindConversationByID(ctx context.Context, id string) (*rubrica.Conversation, error) {
	a, err := rubrica.RequireActor(ctx)
	if err != nil {
		return nil, err
	}
	cv, err := findConversation(ctx, s.db, a.WorkspaceID, id, false)
	if err == nil && cv.Hidden {
		return nil, rubrica.NotFound("id", "Conversation")
	}
	return cv, err
}

// FindMessageByID returns a message of the workspace.
func (s *ConversationService) FindMessageByID(ctx context.Context, id string) (*rubrica.Message, error) {
	a, err := rubrica.RequireActor(ctx)
	if err != nil {
		return nil, err
	}
	row, err := getByID[messageRow](ctx, s.db, "Message", "id",
		`SELECT `+messageColumns+` FROM messages m WHERE m.id = $1 AND m.workspace_id = $2 AND NOT m.hidden`, id, a.WorkspaceID)
	if err != nil {
		return nil, err
	}
	return row.message(), nil
}

// FindLatestConversationStatus returns the status of each contact's latest conversation.
func (s *ConversationService) FindLatestConversationStatus(ctx context.Context, contactIDs []string) (map[string]rubrica.ConversationStatus, error) {
	a, err := rubrica.RequireActor(ctx)
	if err != nil {
		return nil, err
	}
	const q = `SELECT DISTINCT ON (cv.contact_id) cv.contact_id, cv.status FROM conversations cv
		WHERE cv.contact_id = ANY($1) AND cv.workspace_id = $2 AND NOT cv.hidden ORDER BY cv.contact_id, cv.created_at DESC, cv.id DESC`
	var rows []struct {
		ContactID string `db:"contact_id"`
		Status    string `db:"status"`
	}
	if err := s.db.SelectContext(ctx, &rows, q, pq.Array(validIDs(contactIDs)), a.WorkspaceID); err != nil {
		return nil, fmt.Errorf("db: latest conversation status: %w", err)
	}
	out := make(map[string]rubrica.ConversationStatus, len(rows))
	for _, r := range rows {
		out[r.ContactID] = rubrica.ConversationStatus(r.Status)
	}
	return out, nil
}

// pageGroups groups page keys that share a page size and cursor, so each group is one statement.
func pageGroups(keys []rubrica.ConversationPageKey) map[[2]string][]rubrica.ConversationPageKey {
	groups := map[[2]string][]rubrica.ConversationPageKey{}
	for _, k := range keys {
		g := [2]string{fmt.Sprint(k.First), k.After}
		groups[g] = append(groups[g], k)
	}
	return groups
}

func parentIDs(keys []rubrica.ConversationPageKey) []string {
	ids := make([]string, 0, len(keys))
	for _, k := range keys {
		if validID(k.ParentID) {
			ids = append(ids, k.ParentID)
		}
	}
	return ids
}

// The orders of a contact's conversations and of a conversation's messages: newest first.
var (
	conversationOrder = keyset{key: "cv.created_at", id: "cv.id", keyType: keyTimestamp, descending: true}
	messageOrder      = keyset{key: "m.sent_at", id: "m.id", keyType: keyTimestamp, descending: true}
)

// FindConversationPages returns pages of contacts' conversations, newest first: one statement
// per distinct page size and cursor. A key with a cursor that is not one gets no page.
func (s *ConversationService) FindConversationPages(ctx context.Context, keys []rubrica.ConversationPageKey) (map[rubrica.ConversationPageKey]*rubrica.Connection[*rubrica.Conversation], error) {
	a, err := rubrica.RequireActor(ctx)
	if err != nil {
		return nil, err
	}
	out := make(map[rubrica.ConversationPageKey]*rubrica.Connection[*rubrica.Conversation], len(keys))
	for _, group := range pageGroups(keys) {
		k := group[0]
		var after *cursor
		if k.After != "" {
			if after, err = conversationOrder.decodeCursor("after", "CONVERSATION", &k.After); err != nil {
				continue
			}
		}
		var qa args
		where := []string{"cv.contact_id = p.parent", "cv.workspace_id = " + qa.add(a.WorkspaceID), "NOT cv.hidden"}
		orderBy := conversationOrder.apply(&where, &qa, after, nil, false)
		q := `SELECT p.parent, ` + conversationColumns + ` FROM unnest(` + qa.add(pq.Array(parentIDs(group))) + `::uuid[]) AS p(parent)
			CROSS JOIN LATERAL (SELECT cv.* FROM conversations cv WHERE ` + strings.Join(where, " AND ") +
			` ORDER BY ` + orderBy + ` LIMIT ` + qa.add(k.First+1) + `) cv`
		var rows []struct {
			Parent string `db:"parent"`
			conversationRow
		}
		if err := s.db.SelectContext(ctx, &rows, q, qa...); err != nil {
			return nil, fmt.Errorf("db: find conversation pages: %w", err)
		}
		byParent := map[string][]*rubrica.Conversation{}
		for i := range rows {
			byParent[rows[i].Parent] = append(byParent[rows[i].Parent], rows[i].conversation())
		}
		for _, key := range group {
			out[key] = pageOf(byParent[key.ParentID], key.First, false, key.After != "", false, func(c *rubrica.Conversation) string {
				return encodeCursor("CONVERSATION", timeKey(c.CreatedAt), c.ID)
			})
		}
	}
	return out, nil
}

// FindMessagePages returns pages of conversations' messages, newest first.
func (s *ConversationService) FindMessagePages(ctx context.Context, keys []rubrica.ConversationPageKey) (map[rubrica.ConversationPageKey]*rubrica.Connection[*rubrica.Message], error) {
	a, err := rubrica.RequireActor(ctx)
	if err != nil {
		return nil, err
	}
	out := make(map[rubrica.ConversationPageKey]*rubrica.Connection[*rubrica.Message], len(keys))
	for _, group := range pageGroups(keys) {
		k := group[0]
		var after *cursor
		if k.After != "" {
			if after, err = messageOrder.decodeCursor("after", "MESSAGE", &k.After); err != nil {
				continue
			}
		}
		var qa args
		where := []string{"m.conversation_id = p.parent", "m.workspace_id = " + qa.add(a.WorkspaceID), "NOT m.hidden"}
		orderBy := messageOrder.apply(&where, &qa, after, nil, false)
		q := `SELECT p.parent, ` + messageColumns + ` FROM unnest(` + qa.add(pq.Array(parentIDs(group))) + `::uuid[]) AS p(parent)
			CROSS JOIN LATERAL (SELECT m.* FROM messages m WHERE ` + strings.Join(where, " AND ") +
			` ORDER BY ` + orderBy + ` LIMIT ` + qa.add(k.First+1) + `) m`
		var rows []struct {
			Parent string `db:"parent"`
			messageRow
		}
		if err := s.db.SelectContext(ctx, &rows, q, qa...); err != nil {
			return nil, fmt.Errorf("db: find message pages: %w", err)
		}
		byParent := map[string][]*rubrica.Message{}
		for i := range rows {
			byParent[rows[i].Parent] = append(byParent[rows[i].Parent], rows[i].message())
		}
		for _, key := range group {
			out[key] = pageOf(byParent[key.ParentID], key.First, false, key.After != "", false, func(m *rubrica.Message) string {
				return encodeCursor("MESSAGE", timeKey(m.SentAt), m.ID)
			})
		}
	}
	return out, nil
}

// CountConversations counts each contact's conversations.
func (s *ConversationService) CountConversations(ctx context.Context, contactIDs []string) (map[string]int, error) {
	return s.count(ctx, `SELECT contact_id AS id, count(*) AS n FROM conversations WHERE contact_id = ANY($1) AND workspace_id = $2 AND NOT hidden GROUP BY contact_id`, contactIDs)
}

// CountMessages counts each conversation's messages.
func (s *ConversationService) CountMessages(ctx context.Context, conversationIDs []string) (map[string]int, error) {
	return s.count(ctx, `SELECT conversation_id AS id, count(*) AS n FROM messages WHERE conversation_id = ANY($1) AND workspace_id = $2 AND NOT hidden GROUP BY conversation_id`, conversationIDs)
}

func (s *ConversationService) count(ctx context.Context, q string, ids []string) (map[string]int, error) {
	a, err := rubrica.RequireActor(ctx)
	if err != nil {
		return nil, err
	}
	var rows []struct {
		ID string `db:"id"`
		N  int    `db:"n"`
	}
	if err := s.db.SelectContext(ctx, &rows, q, pq.Array(validIDs(ids)), a.WorkspaceID); err != nil {
		return nil, fmt.Errorf("db: count: %w", err)
	}
	out := make(map[string]int, len(rows))
	for _, r := range rows {
		out[r.ID] = r.N
	}
	return out, nil
}
