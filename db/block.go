package db

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"

	"rubrica"
)

// BlockService implements rubrica.BlockService.
type BlockService struct {
	db *DB
}

var _ rubrica.BlockService = (*BlockService)(nil)

// BlockContact closes the contact's open conversation, stops its running workflow runs and
// blocks it, in one transaction; any member may. Blocking a blocked contact changes nothing.
func (s *BlockService) BlockContact(ctx context.Context, id string) (*rubrica.Contact, error) {
	a, err := rubrica.RequireActor(ctx)
	if err != nil {
		return nil, err
	}
	var c *rubrica.Contact
	err = s.db.inTx(ctx, func(tx *sqlx.Tx) error {
		if c, err = findContact(ctx, tx, a.WorkspaceID, id, true); err != nil {
			return err
		}
		if c.Blocked() {
			return nil
		}
		// The open conversation closes first, then the contact is blocked.
		if _, err := tx.ExecContext(ctx, `UPDATE conversations SET status = 'CLOSED', closed_at = clock_timestamp()
			WHERE contact_id = $1 AND status = 'OPEN'`, c.ID); err != nil {
			return fmt.Errorf("db: close conversation: %w", err)
		}
		var blockedAt, updatedAt time.Time
		if err := tx.QueryRowxContext(ctx, `UPDATE contacts SET blocked_at = clock_timestamp(), updated_at = clock_timestamp()
			WHERE id = $1 RETURNING blocked_at, updated_at`, c.ID).Scan(&blockedAt, &updatedAt); err != nil {
			return fmt.Errorf("db: block contact: %w", err)
		}
		c.BlockedAt, c.UpdatedAt = &blockedAt, updatedAt
		if _, err := tx.ExecContext(ctx, `UPDATE workflow_runs SET status = 'STOPPED', stop_reason = $2, stopped_at = clock_timestamp()
			WHERE contact_id = $1 AND status = 'RUNNING'`, c.ID, rubrica.StopReasonContactBlocked); err != nil {
			return fmt.Errorf("db: stop workflow runs: %w", err)
		}
		// A blocked contact leaves every merge suggestion.
		if err := refreshDuplicates(ctx, tx, a.WorkspaceID, []string{c.ID}); err != nil {
			return err
		}
		return publish(ctx, tx, newEvent(a.WorkspaceID, rubrica.KindContact, rubrica.ContactBlocked, c.ID, nil))
	})
	if err != nil {
		return nil, err
	}
	return c, nil
}

// UnblockContact unblocks a contact; owners and managers only. The messages it sent while
// blocked stay hidden; its stopped workflow runs stay stopped.
func (s *BlockService) UnblockContact(ctx context.Context, id string) (*rubrica.Contact, error) {
	a, err := rubrica.RequireManager(ctx, "unblock contacts")
	if err != nil {
		return nil, err
	}
	var c *rubrica.Contact
	err = s.db.inTx(ctx, func(tx *sqlx.Tx) error {
		if c, err = findContact(ctx, tx, a.WorkspaceID, id, true); err != nil {
			return err
		}
		if !c.Blocked() {
			return nil
		}
		if err := tx.QueryRowxContext(ctx, `UPDATE contacts SET blocked_at = NULL, updated_at = clock_timestamp()
			WHERE id = $1 RETURNING updated_at`, c.ID).Scan(&c.UpdatedAt); err != nil {
			return fmt.Errorf("db: unblock contact: %w", err)
		}
		c.BlockedAt = nil
		// The contact counts for merge suggestions again.
		if err := refreshDuplicates(ctx, tx, a.WorkspaceID, []string{c.ID}); err != nil {
			return err
		}
		return publish(ctx, tx, newEvent(a.WorkspaceID, rubrica.KindContact, rubrica.ContactUnblocked, c.ID, nil))
	})
	if err != nil {
		return nil, err
	}
	return c, nil
}

// receiveHidden stores a blocked contact's inbound message as hidden, in its latest
// conversation without reopening it; a contact with no conversation gets a hidden, closed
// one. Nothing a member sees changes: no conversation opens, no channel's last interaction
// moves, no event is published. The contact must be locked by the caller.
func receiveHidden(ctx context.Context, tx *sqlx.Tx, c *rubrica.Contact, channelID, identifier, text string,
	sentAt time.Time, externalID *string) (*rubrica.Conversation, *rubrica.Message, error) {
	var cv conversationRow
	err := tx.GetContext(ctx, &cv, `SELECT `+conversationColumns+` FROM conversations cv WHERE cv.contact_id = $1
		ORDER BY cv.created_at DESC, cv.id DESC LIMIT 1`, c.ID)
	if errors.Is(err, sql.ErrNoRows) {
		const q = `INSERT INTO conversations AS cv (workspace_id, contact_id, channel_id, status, closed_at, hidden)
			VALUES ($1, $2, $3, 'CLOSED', clock_timestamp(), true) RETURNING ` + conversationColumns
		err = tx.GetContext(ctx, &cv, q, c.WorkspaceID, c.ID, channelID)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("db: conversation of a hidden message: %w", err)
	}
	var m messageRow
	const q = `INSERT INTO messages AS m (workspace_id, conversation_id, channel_id, identifier, direction, text, sent_at, external_id, hidden)
		VALUES ($1, $2, $3, $4, 'INBOUND', $5, $6, $7, true) RETURNING ` + messageColumns
	if err := tx.GetContext(ctx, &m, q, c.WorkspaceID, cv.ID, channelID, identifier, text, sentAt, externalID); err != nil {
		return nil, nil, fmt.Errorf("db: insert hidden message: %w", err)
	}
	return cv.conversation(), m.message(), nil
}

// BillingService implements rubrica.BillingService.
type BillingService struct {
	db *DB
}

var _ rubrica.BillingService = (*BillingService)(nil)

// CountActiveContacts counts the contacts with at least one visible inbound message sent in
// the month (UTC). A contact blocked mid-month counts for that month (it wrote before the
// block) and not for the next ones, where what it sends is hidden. Contacts merged since
// count once, as the contact their conversations moved to.
func (s *BillingService) CountActiveContacts(ctx context.Context, month string) (int, error) {
	a, err := rubrica.RequireActor(ctx)
	if err != nil {
		return 0, err
	}
	start, end, err := rubrica.ParseMonth("month", month)
	if err != nil {
		return 0, err
	}
	const q = `SELECT count(DISTINCT cv.contact_id) FROM messages m JOIN conversations cv ON cv.id = m.conversation_id
		WHERE m.workspace_id = $1 AND m.direction = 'INBOUND' AND NOT m.hidden AND m.sent_at >= $2 AND m.sent_at < $3`
	var n int
	if err := s.db.GetContext(ctx, &n, q, a.WorkspaceID, start, end); err != nil {
		return 0, fmt.Errorf("db: count active contacts: %w", err)
	}
	return n, nil
}
