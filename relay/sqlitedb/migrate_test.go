package sqlitedb

import (
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"testing/fstest"
)

// TestMigrateConcurrently: two processes opening a new database at once
// (hooktap wait started beside the listen that creates its store) both
// read "nothing applied yet"; the second then ran 0001 again and failed
// with "table ... already exists". Each opener here has its own pools, as
// a process would; rounds make the race likely.
func TestMigrateConcurrently(t *testing.T) {
	migs := fstest.MapFS{
		"migrations/0001_a.sql": {Data: []byte(`CREATE TABLE a (k INTEGER PRIMARY KEY);`)},
		"migrations/0002_b.sql": {Data: []byte(`CREATE TABLE b (k INTEGER PRIMARY KEY); ALTER TABLE a ADD COLUMN v TEXT;`)},
	}
	for round := range 20 {
		path := filepath.Join(t.TempDir(), fmt.Sprintf("r%d.db", round))
		var wg sync.WaitGroup
		errs := make(chan error, 4)
		for range 4 {
			wg.Go(func() {
				db, err := Open(t.Context(), path, migs, Options{})
				if err != nil {
					errs <- err
					return
				}
				db.Close()
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatalf("round %d: %v", round, err)
		}
	}
}
