package db_test

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"

	"rubrica"
	"rubrica/db"
	"rubrica/db/dbtest"
)

// TestRefreshLocksValuesNotWorkspace: while a transaction that refreshed the suggestions of a
// phone is open, a contact with another phone of the same workspace is created at once, and
// one with the same phone waits for it and then joins its suggestion.
func TestRefreshLocksValuesNotWorkspace(t *testing.T) {
	t.Parallel()
	d := dbtest.MustOpenDB(t)
	ctx := newWorkspace(t, d, "Values")
	commit, err := db.HoldRefresh(ctx, d, "+393331110001")
	if err != nil {
		t.Fatal(err)
	}
	committed := false
	defer func() {
		if !committed {
			commit()
		}
	}()

	other := make(chan error, 1)
	go func() {
		_, err := d.Services().Contacts.CreateContact(ctx, rubrica.ContactChanges{Phone: rubrica.SetTo("+393331110002")})
		other <- err
	}()
	select {
	case err := <-other:
		if err != nil {
			t.Fatalf("contact with another phone: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a contact with another phone waited for the open refresh")
	}

	same := make(chan error, 1)
	go func() {
		_, err := d.Services().Contacts.CreateContact(ctx, rubrica.ContactChanges{Phone: rubrica.SetTo("+393331110001")})
		same <- err
	}()
	select {
	case err := <-same:
		t.Fatalf("a contact with the same phone did not wait for the open refresh (err %v)", err)
	case <-time.After(300 * time.Millisecond):
	}
	if err := commit(); err != nil {
		t.Fatal(err)
	}
	committed = true
	if err := <-same; err != nil {
		t.Fatalf("contact with the same phone: %v", err)
	}
	ten := 10
	open, err := d.Services().Merges.FindSuggestions(ctx, rubrica.SuggestionOpen, rubrica.Page{First: &ten})
	if err != nil {
		t.Fatal(err)
	}
	if len(open.Edges) != 1 || len(open.Edges[0].Node.ContactIDs) != 2 || !slices.Equal(open.Edges[0].Node.Keys, []string{"PHONE:+393331110001"}) {
		t.Errorf("open suggestions: got %+v, want one of the two contacts of +393331110001", open.Edges)
	}
}

// TestDuplicateLocksOutOfOrder: a refresh never waits for a lock below one it holds: it tries
// it, and when another transaction holds it the whole transaction runs again, taking every
// lock it needed first, in order (so it then waits, as anyone may, in ascending order).
func TestDuplicateLocksOutOfOrder(t *testing.T) {
	t.Parallel()
	d := dbtest.MustOpenDB(t)
	ctx := newWorkspace(t, d, "Order")
	a, err := rubrica.RequireActor(ctx)
	if err != nil {
		t.Fatal(err)
	}
	ws := a.WorkspaceID
	holder, err := d.BeginTxx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer holder.Rollback()
	if err := db.TakeDuplicateLocks(ctx, holder, ws, []int64{100}); err != nil {
		t.Fatal(err)
	}

	// Alone: 200 then 100 fails at once, naming both.
	tx, err := d.BeginTxx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	err = db.TakeDuplicateLocks(ctx, tx, ws, []int64{200}, []int64{100})
	tx.Rollback()
	ids, ok := db.LockOrderIDs(err)
	slices.Sort(ids)
	if !ok || !slices.Equal(ids, []int64{100, 200}) {
		t.Fatalf("200 then 100 held elsewhere: got %v (ids %v), want a lock-order failure naming 100 and 200", err, ids)
	}
	if waited := time.Since(start); waited > 2*time.Second {
		t.Errorf("the failure took %v: it waited", waited)
	}

	// In inTx: the second run takes 100 and 200 in order, waits for the holder, succeeds.
	attempts := 0
	done := make(chan error, 1)
	go func() {
		done <- db.InTx(ctx, d, func(tx *sqlx.Tx) error {
			attempts++
			return db.TakeDuplicateLocks(ctx, tx, ws, []int64{200}, []int64{100})
		})
	}()
	select {
	case err := <-done:
		t.Fatalf("the transaction finished while 100 was held (err %v)", err)
	case <-time.After(300 * time.Millisecond):
	}
	if err := holder.Commit(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("after the holder committed: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the transaction did not finish after the holder committed")
	}
	if attempts != 2 {
		t.Errorf("attempts: got %d, want 2", attempts)
	}
}

// TestRefreshTooLargeForValueLocks: a refresh that would need more value locks than the lock
// table should give one transaction runs again holding the workspace's duplicates lock
// exclusively, and only that; the suggestion it makes is the same.
func TestRefreshTooLargeForValueLocks(t *testing.T) {
	t.Parallel()
	d := dbtest.MustOpenDB(t)
	ctx := newWorkspace(t, d, "Large")
	a, err := rubrica.RequireActor(ctx)
	if err != nil {
		t.Fatal(err)
	}
	many := make([]int64, 101)
	for i := range many {
		many[i] = int64(i + 1)
	}
	var locks []string
	attempts := 0
	err = db.InTx(ctx, d, func(tx *sqlx.Tx) error {
		attempts++
		if err := db.TakeDuplicateLocks(ctx, tx, a.WorkspaceID, many); err != nil {
			return err
		}
		return tx.SelectContext(ctx, &locks, `SELECT mode FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid()`)
	})
	if err != nil || attempts != 2 || !slices.Equal(locks, []string{"ExclusiveLock"}) {
		t.Errorf("101 locks: got err %v, %d attempts, advisory locks %v; want nil, 2, the workspace's alone, exclusive", err, attempts, locks)
	}

	// Six contacts sharing an email, each with 10 phones and 10 emails of its own: 121 values.
	var ids []string
	for i := range 6 {
		var phones, emails []string
		for j := range 10 {
			phones = append(phones, fmt.Sprintf("+3933355%02d%03d", i, j))
			emails = append(emails, fmt.Sprintf("c%d.%d@large.test", i, j))
		}
		emails[9] = "shared@large.test"
		c, err := d.Services().Contacts.CreateContact(ctx, rubrica.ContactChanges{Phones: rubrica.SetTo(phones), Emails: rubrica.SetTo(emails)})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, c.ID)
	}
	ten := 10
	open, err := d.Services().Merges.FindSuggestions(ctx, rubrica.SuggestionOpen, rubrica.Page{First: &ten})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(ids)
	if len(open.Edges) != 1 || !slices.Equal(open.Edges[0].Node.ContactIDs, ids) || !slices.Equal(open.Edges[0].Node.Keys, []string{"EMAIL:shared@large.test"}) {
		t.Errorf("open suggestions: got %+v, want one of the six by the shared email", open.Edges)
	}
}
