package db_test

import (
	"sync"
	"testing"

	"rubrica/db/dbtest"
)

// TestPoolKeepsItsConnections: waves of concurrent statements, fewer than the pool's open
// connections, close none of them for want of idle room (each would be opened again by the
// next wave: a backend forked, its statements prepared again).
func TestPoolKeepsItsConnections(t *testing.T) {
	t.Parallel()
	d := dbtest.MustOpenDB(t)
	for range 5 {
		var wg sync.WaitGroup
		for range 32 {
			wg.Go(func() {
				if _, err := d.Exec(`SELECT pg_sleep(0.01)`); err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
	}
	if s := d.Stats(); s.MaxIdleClosed != 0 || s.OpenConnections < 32 {
		t.Errorf("pool after 5 waves of 32: %d open, %d closed for want of idle room; want 32 or more kept and none closed", s.OpenConnections, s.MaxIdleClosed)
	}
}
