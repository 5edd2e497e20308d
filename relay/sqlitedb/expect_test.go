package sqlitedb

import (
	"testing"
	"time"
)

// While a write is expected, the writer holds its batch open and the two
// commit together; with none expected, a lone write commits at once.
func TestWriterLingersForExpectedWrites(t *testing.T) {
	_, w := openTest(t)
	w.lingerFor = time.Minute // only the expected write may end the wait

	txOf := func(k int, got **Tx) Op {
		return func(tx *Tx) error {
			*got = tx
			_, err := tx.Exec(`INSERT INTO t(k, v) VALUES (?, 'x')`, k)
			return err
		}
	}
	var first, second *Tx
	w.Expect(1)
	a := w.Go(txOf(1, &first))
	select {
	case err := <-a:
		t.Fatalf("committed while a write was expected: %v", err)
	case <-time.After(20 * time.Millisecond): // proving a negative: a bound, not synchronisation
	}
	w.Expect(-1)
	b := w.Go(txOf(2, &second))
	if err := <-a; err != nil {
		t.Fatal(err)
	}
	if err := <-b; err != nil {
		t.Fatal(err)
	}
	if first == nil || first != second {
		t.Fatal("the expected write was committed in a transaction of its own")
	}

	// Nothing expected: no waiting.
	var lone *Tx
	select {
	case err := <-w.Go(txOf(3, &lone)):
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a lone write waited for the linger")
	}
}
