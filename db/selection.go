package db

import (
	"context"
	"fmt"
	"strings"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"rubrica"
)

// selectionLimit bounds a selection: at most max contacts, else LIMIT_EXCEEDED with a
// message that starts with what (such as "Tags can be added to") and says how many were
// selected. The zero value sets no bound.
type selectionLimit struct {
	max  int
	what string
}

func (l selectionLimit) exceeded(field string, n int, byFilter bool) error {
	how := fmt.Sprintf("%d were selected", n)
	if byFilter {
		how = fmt.Sprintf("the filter matches %d", n)
	}
	return &rubrica.Error{Code: rubrica.ELIMIT, Field: field,
		Message: fmt.Sprintf("%s at most %d contacts at once; %s. Narrow the selection.", l.what, l.max, how)}
}

// selectContactIDs resolves a selection to the ids of contacts of the workspace: the given ids
// (deduplicated, in the order given; any id the workspace lacks is NOT_FOUND about idsField)
// or those the filter matches, oldest first. With lock, the contacts are locked in id order
// (the order every multi-contact lock takes, so concurrent changes never deadlock) and a
// filter's matches come in id order.
func selectContactIDs(ctx context.Context, tx *sqlx.Tx, workspaceID string, sel rubrica.ContactSelection,
	idsField string, limit selectionLimit, lock bool) ([]string, error) {
	if err := sel.Validate(idsField); err != nil {
		return nil, err
	}
	if sel.Filter == nil {
		ids := uniq(sel.IDs)
		if limit.max > 0 && len(ids) > limit.max {
			return nil, limit.exceeded(idsField, len(ids), false)
		}
		q := `SELECT id FROM contacts WHERE id = ANY($1) AND workspace_id = $2 ORDER BY id`
		if lock {
			q += ` FOR UPDATE`
		}
		var found []string
		if err := tx.SelectContext(ctx, &found, q, pq.Array(validIDs(ids)), workspaceID); err != nil {
			return nil, fmt.Errorf("db: select contacts: %w", err)
		}
		if len(found) != len(ids) {
			return nil, rubrica.NotFound(idsField, "Contact")
		}
		return ids, nil
	}
	var qa args
	where, err := contactWhere(workspaceID, *sel.Filter, &qa)
	if err != nil {
		return nil, err
	}
	cond := strings.Join(where, " AND ")
	if lock {
		// One statement: the rows are locked in id order and, having waited for a concurrent
		// change, rechecked against the filter, so what is counted is what is locked.
		var ids []string
		if err := tx.SelectContext(ctx, &ids, `SELECT c.id FROM contacts c WHERE `+cond+` ORDER BY c.id FOR UPDATE OF c`, qa...); err != nil {
			return nil, fmt.Errorf("db: lock contacts: %w", err)
		}
		if limit.max > 0 && len(ids) > limit.max {
			return nil, limit.exceeded("filter", len(ids), true)
		}
		return ids, nil
	}
	q := `SELECT c.id FROM contacts c WHERE ` + cond + ` ORDER BY c.created_at, c.id`
	if limit.max > 0 {
		q += ` LIMIT ` + fmt.Sprint(limit.max+1)
	}
	var ids []string
	if err := tx.SelectContext(ctx, &ids, q, qa...); err != nil {
		return nil, fmt.Errorf("db: select contacts: %w", err)
	}
	if limit.max > 0 && len(ids) > limit.max {
		var n int
		if err := tx.GetContext(ctx, &n, `SELECT count(*) FROM contacts c WHERE `+cond, qa...); err != nil {
			return nil, fmt.Errorf("db: count contacts: %w", err)
		}
		return nil, limit.exceeded("filter", n, true)
	}
	return ids, nil
}
