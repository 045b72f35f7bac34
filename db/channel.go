package db

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"rubrica"
)

// ChannelService implements rubrica.ChannelService.
type ChannelService struct {
	db *DB
}

var _ rubrica.ChannelService = (*ChannelService)(nil)

// channelRow is a channels row, scanned (db) or decoded from readContactLists' JSON (json).
type channelRow struct {
	ID          string    `db:"id" json:"id"`
	WorkspaceID string    `db:"workspace_id" json:"workspace_id"`
	Type        string    `db:"type" json:"type"`
	Name        string    `db:"name" json:"name"`
	PageID      *string   `db:"page_id" json:"page_id"`
	CreatedAt   time.Time `db:"created_at" json:"created_at"`
}

const channelColumns = `ch.id, ch.workspace_id, ch.type, ch.name, ch.page_id, ch.created_at`

func (r *channelRow) channel() *rubrica.Channel {
	return &rubrica.Channel{ID: r.ID, WorkspaceID: r.WorkspaceID, Type: rubrica.ChannelType(r.Type), Name: r.Name,
		PageID: r.PageID, CreatedAt: r.CreatedAt}
}

// linkRow is a contact_channels row, scanned (db) or decoded from readContactLists' JSON
// (json).
type linkRow struct {
	ID                string    `db:"id" json:"id"`
	ContactID         string    `db:"contact_id" json:"contact_id"`
	ChannelID         string    `db:"channel_id" json:"channel_id"`
	Identifier        string    `db:"identifier" json:"identifier"`
	ConnectedAt       time.Time `db:"connected_at" json:"connected_at"`
	LastInteractionAt time.Time `db:"last_interaction_at" json:"last_interaction_at"`
}

const linkColumns = `l.id, l.contact_id, l.channel_id, l.identifier, l.connected_at, l.last_interaction_at`

func (r *linkRow) link() *rubrica.ChannelLink {
	return &rubrica.ChannelLink{ID: r.ID, ContactID: r.ContactID, ChannelID: r.ChannelID, Identifier: r.Identifier,
		ConnectedAt: r.ConnectedAt, LastInteractionAt: r.LastInteractionAt}
}

// CreateChannel adds a channel to the workspace; owners and managers only.
func (s *ChannelService) CreateChannel(ctx context.Context, in rubrica.ChannelInput) (*rubrica.Channel, error) {
	a, err := rubrica.RequireManager(ctx, "manage channels")
	if err != nil {
		return nil, err
	}
	if err := rubrica.ValidateChannelInput(&in); err != nil {
		return nil, err
	}
	var ch *rubrica.Channel
	err = s.db.inTx(ctx, func(tx *sqlx.Tx) error {
		var row channelRow
		const q = `INSERT INTO channels AS ch (workspace_id, type, name, page_id) VALUES ($1, $2, $3, $4) RETURNING ` + channelColumns
		if err := tx.GetContext(ctx, &row, q, a.WorkspaceID, string(in.Type), in.Name, in.PageID); err != nil {
			return fmt.Errorf("db: insert channel: %w", err)
		}
		ch = row.channel()
		return nil
	})
	return ch, err
}

// FindChannels lists the workspace's channels, oldest first.
func (s *ChannelService) FindChannels(ctx context.Context) ([]*rubrica.Channel, error) {
	a, err := rubrica.RequireActor(ctx)
	if err != nil {
		return nil, err
	}
	return findChannels(ctx, s.db, a.WorkspaceID)
}

func findChannels(ctx context.Context, q sqlx.QueryerContext, workspaceID string) ([]*rubrica.Channel, error) {
	var rows []channelRow
	if err := sqlx.SelectContext(ctx, q, &rows, channelsList("$1").rows(), workspaceID); err != nil {
		return nil, fmt.Errorf("db: find channels: %w", err)
	}
	return channelsOf(rows), nil
}

func channelsOf(rows []channelRow) []*rubrica.Channel {
	out := make([]*rubrica.Channel, len(rows))
	for i := range rows {
		out[i] = rows[i].channel()
	}
	return out
}

// FindChannelByID returns a channel of the workspace.
func (s *ChannelService) FindChannelByID(ctx context.Context, id string) (*rubrica.Channel, error) {
	a, err := rubrica.RequireActor(ctx)
	if err != nil {
		return nil, err
	}
	return findChannel(ctx, s.db, a.WorkspaceID, id, "id")
}

// channelTypes remember the workspace and type of channels by id, for inbound messages: a
// channel's type never changes and channels are never deleted, so an entry never goes
// stale. It holds at most maxCachedChannels entries and starts over when full.
type channelTypes struct {
	mu    sync.Mutex
	known map[string]channelType
}

type channelType struct {
	workspaceID string
	typ         rubrica.ChannelType
}

const maxCachedChannels = 10000

func (c *channelTypes) get(workspaceID, id string) (rubrica.ChannelType, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	t, ok := c.known[id]
	return t.typ, ok && t.workspaceID == workspaceID
}

func (c *channelTypes) put(ch *rubrica.Channel) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.known == nil || len(c.known) >= maxCachedChannels {
		c.known = map[string]channelType{}
	}
	c.known[ch.ID] = channelType{workspaceID: ch.WorkspaceID, typ: ch.Type}
}

// channelTypeOf returns the type of a channel of the workspace, from memory when it has been
// seen; the caller must still check that the channel exists (see readIdentity).
func (db *DB) channelTypeOf(ctx context.Context, q sqlx.QueryerContext, workspaceID, id string) (rubrica.ChannelType, error) {
	if t, ok := db.channels.get(workspaceID, id); ok {
		return t, nil
	}
	ch, err := findChannel(ctx, q, workspaceID, id, "channelId")
	if err != nil {
		return "", err
	}
	db.channels.put(ch)
	return ch.Type, nil
}

func findChannel(ctx context.Context, q sqlx.QueryerContext, workspaceID, id, field string) (*rubrica.Channel, error) {
	row, err := getByID[channelRow](ctx, q, "Channel", field,
		`SELECT `+channelColumns+` FROM channels ch WHERE ch.id = $1 AND ch.workspace_id = $2`, id, workspaceID)
	if err != nil {
		return nil, err
	}
	return row.channel(), nil
}

// FindLinksByContactIDs returns each contact's channel links.
func (s *ChannelService) FindLinksByContactIDs(ctx context.Context, contactIDs []string) (map[string][]*rubrica.ChannelLink, error) {
	a, err := rubrica.RequireActor(ctx)
	if err != nil {
		return nil, err
	}
	links, err := findLinks(ctx, s.db, a.WorkspaceID, validIDs(contactIDs))
	if err != nil {
		return nil, err
	}
	return linksByContact(links, len(contactIDs)), nil
}

func findLinks(ctx context.Context, q sqlx.QueryerContext, workspaceID string, contactIDs []string) ([]*rubrica.ChannelLink, error) {
	var rows []linkRow
	if err := sqlx.SelectContext(ctx, q, &rows, linksList.rows(), pq.Array(contactIDs), workspaceID); err != nil {
		return nil, fmt.Errorf("db: find channel links: %w", err)
	}
	return linksOf(rows), nil
}

func linksOf(rows []linkRow) []*rubrica.ChannelLink {
	out := make([]*rubrica.ChannelLink, len(rows))
	for i := range rows {
		out[i] = rows[i].link()
	}
	return out
}

// linksByContact groups links by contact, in their order.
func linksByContact(links []*rubrica.ChannelLink, n int) map[string][]*rubrica.ChannelLink {
	out := make(map[string][]*rubrica.ChannelLink, n)
	for _, l := range links {
		out[l.ContactID] = append(out[l.ContactID], l)
	}
	return out
}

// RemoveContactChannel unlinks a channel from a contact; owners and managers only. The
// conversations and messages stay. Removing a channel the contact is not linked to changes
// nothing. It returns the contact, the channel and the contact's remaining links as committed.
func (s *ChannelService) RemoveContactChannel(ctx context.Context, contactID, channelID string) (*rubrica.ContactChannelRemoved, error) {
	a, err := rubrica.RequireManager(ctx, "remove a channel from a contact")
	if err != nil {
		return nil, err
	}
	var out rubrica.ContactChannelRemoved
	err = s.db.inTx(ctx, func(tx *sqlx.Tx) error {
		if out.Contact, err = findContact(ctx, tx, a.WorkspaceID, contactID, true); err != nil {
			return withField(err, "contactId")
		}
		if out.Channel, err = findChannel(ctx, tx, a.WorkspaceID, channelID, "channelId"); err != nil {
			return err
		}
		if err := unlinkChannel(ctx, tx, a.WorkspaceID, contactID, channelID); err != nil {
			return err
		}
		out.Lists, err = readContactLists(ctx, tx, a.WorkspaceID, []string{contactID}, rubrica.ContactListSet{Links: true, Assignees: true})
		return err
	})
	if err != nil {
		return nil, err
	}
	return &out, nil
}

// unlinkChannel deletes a contact's links on a channel and announces it if there were any.
func unlinkChannel(ctx context.Context, tx *sqlx.Tx, workspaceID, contactID, channelID string) error {
	res, err := tx.ExecContext(ctx, `DELETE FROM contact_channels WHERE contact_id = $1 AND channel_id = $2`, contactID, channelID)
	if err != nil {
		return fmt.Errorf("db: unlink channel: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return nil
	}
	return publish(ctx, tx, newEvent(workspaceID, rubrica.KindContactChannel, rubrica.ChannelUnlinked, contactID, &channelID))
}
