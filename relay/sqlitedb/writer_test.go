package sqlitedb

import (
	"errors"
	"path/filepath"
	"sync"
	"testing"
	"testing/fstest"
)

func openTest(t *testing.T) (*DB, *Writer) {
	t.Helper()
	migs := fstest.MapFS{"migrations/0001_t.sql": {Data: []byte(`CREATE TABLE t (k INTEGER PRIMARY KEY, v TEXT NOT NULL);`)}}
	db, err := Open(t.Context(), filepath.Join(t.TempDir(), "t.db"), migs, Options{})
	if err != nil {
		t.Fatal(err)
	}
	w := NewWriter(db.W, 64)
	t.Cleanup(func() { w.Close(); db.Close() })
	return db, w
}

func TestWriterBatchesAndIsolatesFailures(t *testing.T) {
	db, w := openTest(t)
	boom := errors.New("boom")
	var wg sync.WaitGroup
	results := make([]error, 200)
	for i := range results {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			results[i] = w.Do(t.Context(), func(tx *Tx) error {
				if _, err := tx.Exec(`INSERT INTO t(k, v) VALUES (?, ?)`, i, "x"); err != nil {
					return err
				}
				if i%10 == 0 {
					return boom // after a write: it must be undone
				}
				return nil
			})
		}(i)
	}
	wg.Wait()
	for i, err := range results {
		if (i%10 == 0) != errors.Is(err, boom) {
			t.Errorf("op %d: %v", i, err)
		}
	}
	var n int
	db.R.QueryRow(`SELECT COUNT(*) FROM t`).Scan(&n)
	if n != 180 {
		t.Fatalf("%d rows, want 180 (the failed ops' writes undone, the others kept)", n)
	}
	var bad int
	db.R.QueryRow(`SELECT COUNT(*) FROM t WHERE k % 10 = 0`).Scan(&bad)
	if bad != 0 {
		t.Fatalf("%d rows of failed ops were kept", bad)
	}
}

func TestWriterCloseCommitsQueued(t *testing.T) {
	db, w := openTest(t)
	var dones []<-chan error
	for i := 0; i < 100; i++ {
		dones = append(dones, w.Go(func(tx *Tx) error {
			_, err := tx.Exec(`INSERT INTO t(k, v) VALUES (?, 'y')`, i)
			return err
		}))
	}
	w.Close()
	for _, d := range dones {
		if err := <-d; err != nil {
			t.Fatal(err)
		}
	}
	var n int
	db.R.QueryRow(`SELECT COUNT(*) FROM t`).Scan(&n)
	if n != 100 {
		t.Fatalf("%d rows after Close, want 100", n)
	}
	if err := <-w.Go(func(*Tx) error { return nil }); !errors.Is(err, ErrWriterClosed) {
		t.Fatalf("write after Close: %v", err)
	}
}

func TestCheckpointPagesOption(t *testing.T) {
	migs := fstest.MapFS{"migrations/0001_t.sql": {Data: []byte(`CREATE TABLE t (k INTEGER PRIMARY KEY);`)}}
	for _, tt := range []struct{ pages, want int }{{0, 4000}, {16000, 16000}} {
		db, err := Open(t.Context(), filepath.Join(t.TempDir(), "t.db"), migs, Options{CheckpointPages: tt.pages})
		if err != nil {
			t.Fatal(err)
		}
		var got int
		if err := db.W.QueryRow(`PRAGMA wal_autocheckpoint`).Scan(&got); err != nil || got != tt.want {
			t.Errorf("CheckpointPages %d: wal_autocheckpoint = %d, %v; want %d", tt.pages, got, err, tt.want)
		}
		db.Close()
	}
}
