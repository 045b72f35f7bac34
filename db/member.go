package db

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"rubrica"
)

// FindMembers lists the workspace's members, removed ones left out, oldest first; any member
// may.
func (s *WorkspaceService) FindMembers(ctx context.Context) ([]*rubrica.Member, error) {
	a, err := rubrica.RequireActor(ctx)
	if err != nil {
		return nil, err
	}
	var rows []memberRow
	const q = `SELECT ` + memberColumns + ` FROM members WHERE workspace_id = $1 AND removed_at IS NULL ORDER BY created_at, id`
	if err := s.db.SelectContext(ctx, &rows, q, a.WorkspaceID); err != nil {
		return nil, fmt.Errorf("db: find members: %w", err)
	}
	out := make([]*rubrica.Member, len(rows))
	for i := range rows {
		out[i] = rows[i].member()
	}
	return out, nil
}

// RemoveMember removes a member of the actor's workspace; owners only, and not themself.
func (s *WorkspaceService) RemoveMember(ctx context.Context, id string) (*rubrica.Member, error) {
	a, err := rubrica.RequireOwner(ctx, "remove members")
	if err != nil {
		return nil, err
	}
	var m *rubrica.Member
	err = s.db.inTx(ctx, func(tx *sqlx.Tx) error {
		target, err := getByID[memberRow](ctx, tx, "Member", "memberId",
			`SELECT `+memberColumns+` FROM members WHERE id = $1 AND workspace_id = $2`, id, a.WorkspaceID)
		if err != nil {
			return err
		}
		m, err = removeMember(ctx, tx, a.WorkspaceID, target.ID, a.MemberID)
		return err
	})
	return m, err
}

// RemoveWorkspaceMember removes the member with that email (the command line's, acting for
// no member: any member but the last owner).
func (s *WorkspaceService) RemoveWorkspaceMember(ctx context.Context, workspaceID, email string) (*rubrica.Member, error) {
	if !validID(workspaceID) {
		return nil, rubrica.NotFound("workspace", "Workspace")
	}
	var m *rubrica.Member
	err := s.db.inTx(ctx, func(tx *sqlx.Tx) error {
		var id string
		const q = `SELECT id FROM members WHERE workspace_id = $1 AND lower(email) = lower($2) AND removed_at IS NULL`
		if err := tx.GetContext(ctx, &id, q, workspaceID, email); errors.Is(err, sql.ErrNoRows) {
			return rubrica.NotFound("email", "Member")
		} else if err != nil {
			return fmt.Errorf("db: find member: %w", err)
		}
		var err error
		m, err = removeMember(ctx, tx, workspaceID, id, "")
		return err
	})
	return m, err
}

// removeMember removes the member softly: the row stays with removed_at set, so that history
// (Merge.mergedBy, undoneBy) still resolves to who acted. Every token of theirs is revoked,
// every contact assigned to them becomes unassigned (an UPDATED event each), and MEMBER_REMOVED
// tells every instance to close the member's connections. actorID, when set, is the owner
// removing: they cannot remove themself, and must still be an owner once the owners are
// locked. The last owner is never removed. A removed member stays as they are.
func removeMember(ctx context.Context, tx *sqlx.Tx, workspaceID, memberID, actorID string) (*rubrica.Member, error) {
	// Lock the owners first, in one order, so that two owners removing each other
	// concurrently cannot leave the workspace without one.
	var owners []string
	const lockOwners = `SELECT id FROM members WHERE workspace_id = $1 AND role = 'OWNER' AND removed_at IS NULL ORDER BY id FOR UPDATE`
	if err := tx.SelectContext(ctx, &owners, lockOwners, workspaceID); err != nil {
		return nil, fmt.Errorf("db: lock owners: %w", err)
	}
	if actorID != "" && !slices.Contains(owners, actorID) {
		return nil, rubrica.Errorf(rubrica.EFORBIDDEN, "Only owners may remove members.")
	}
	var m memberRow
	if err := tx.GetContext(ctx, &m, `SELECT `+memberColumns+` FROM members WHERE id = $1 FOR UPDATE`, memberID); err != nil {
		return nil, fmt.Errorf("db: lock member: %w", err)
	}
	if m.RemovedAt != nil {
		return m.member(), nil
	}
	switch {
	case m.ID == actorID:
		return nil, &rubrica.Error{Code: rubrica.ECONFLICT, Field: "memberId", Message: "An owner cannot remove themself: another owner may."}
	case rubrica.Role(m.Role) == rubrica.RoleOwner && len(owners) <= 1:
		return nil, &rubrica.Error{Code: rubrica.ECONFLICT, Field: "memberId", Message: "The last owner of a workspace cannot be removed."}
	}
	var at time.Time
	if err := tx.GetContext(ctx, &at, `UPDATE members SET removed_at = now() WHERE id = $1 RETURNING removed_at`, m.ID); err != nil {
		return nil, fmt.Errorf("db: remove member: %w", err)
	}
	m.RemovedAt = &at
	if _, err := tx.ExecContext(ctx, `UPDATE api_tokens SET revoked_at = now() WHERE member_id = $1 AND revoked_at IS NULL`, m.ID); err != nil {
		return nil, fmt.Errorf("db: revoke member's tokens: %w", err)
	}
	events, err := unassignContacts(ctx, tx, workspaceID, m.ID)
	if err != nil {
		return nil, err
	}
	events = append(events, newEvent(workspaceID, rubrica.KindAuth, rubrica.MemberRemoved, "", &m.ID))
	return m.member(), publish(ctx, tx, events...)
}

// unassignContacts unassigns every contact of the member and returns their UPDATED events.
func unassignContacts(ctx context.Context, tx *sqlx.Tx, workspaceID, memberID string) ([]rubrica.Event, error) {
	var ids pq.StringArray
	const q = `WITH locked AS (
			SELECT id FROM contacts WHERE workspace_id = $1 AND assignee_id = $2 ORDER BY id FOR UPDATE
		), updated AS (
			UPDATE contacts c SET assignee_id = NULL, updated_at = clock_timestamp() FROM locked WHERE c.id = locked.id RETURNING c.id
		)
		SELECT coalesce(array_agg(id ORDER BY id), '{}') FROM updated`
	if err := tx.GetContext(ctx, &ids, q, workspaceID, memberID); err != nil {
		return nil, fmt.Errorf("db: unassign contacts: %w", err)
	}
	events := make([]rubrica.Event, len(ids))
	for i, id := range ids {
		events[i] = newEvent(workspaceID, rubrica.KindContact, rubrica.ContactUpdated, id, nil)
	}
	return events, nil
}
