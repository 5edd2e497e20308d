package relay

import (
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/hooktap/hooktap/relay/natsnode/natstest"
)

// A watch whose consumer ends without a word (as nats.go's ordered
// consumer does when it cannot recreate it) is started again once it is
// seen behind the bucket: what changed meanwhile is applied, and what was
// deleted meanwhile goes.
func TestBucketWatchRestartsWhenItStalls(t *testing.T) {
	every := watchCheckEvery
	watchCheckEvery = 50 * time.Millisecond
	t.Cleanup(func() { watchCheckEvery = every })
	node := natstest.Cluster(t, 1).Node(t, 0)
	kv, err := node.JS.CreateKeyValue(t.Context(), jetstream.KeyValueConfig{Bucket: "watched"})
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"stays", "goes", "changes"} {
		if _, err := kv.PutString(t.Context(), k, "1"); err != nil {
			t.Fatal(err)
		}
	}
	var mu sync.Mutex
	held := map[string]string{}
	apply := func(e jetstream.KeyValueEntry) {
		mu.Lock()
		defer mu.Unlock()
		if e.Operation() == jetstream.KeyValuePut {
			held[e.Key()] = string(e.Value())
		} else {
			delete(held, e.Key())
		}
	}
	resync := func(seen map[string]bool, _ uint64) {
		mu.Lock()
		defer mu.Unlock()
		for k := range held {
			if !seen[k] {
				delete(held, k)
			}
		}
	}
	w, err := watchBucket(t.Context(), nil, kv, "watched", apply, resync)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.Stop)
	state := func() map[string]string {
		mu.Lock()
		defer mu.Unlock()
		out := map[string]string{}
		for k, v := range held {
			out[k] = v
		}
		return out
	}
	if got := state(); len(got) != 3 {
		t.Fatalf("after the start the watch holds %v", got)
	}

	// The consumer ends; the bucket changes.
	w.mu.Lock()
	w.w.Stop()
	w.mu.Unlock()
	if err := kv.Delete(t.Context(), "goes"); err != nil {
		t.Fatal(err)
	}
	// and its marker goes too, as a node's purge does (purgeMarkers)
	if err := purgeDeletes(t.Context(), node.JS, kv, -time.Hour); err != nil {
		t.Fatal(err)
	}
	if _, err := kv.PutString(t.Context(), "changes", "2"); err != nil {
		t.Fatal(err)
	}
	if _, err := kv.PutString(t.Context(), "new", "1"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the watch to catch up", func() bool {
		got := state()
		return len(got) == 3 && got["stays"] == "1" && got["changes"] == "2" && got["new"] == "1"
	})
	w.mu.Lock()
	restarts := w.restarts
	w.mu.Unlock()
	if restarts != 1 {
		t.Errorf("%d restarts, want 1", restarts)
	}

	// A watch that keeps up is left alone, purged markers or not.
	if err := purgeDeletes(t.Context(), node.JS, kv, -time.Hour); err != nil {
		t.Fatal(err)
	}
	if _, err := kv.PutString(t.Context(), "later", "1"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "a later change", func() bool { return state()["later"] == "1" })
	w.mu.Lock()
	checked := w.checks
	w.mu.Unlock()
	waitFor(t, "five more checks", func() bool {
		w.mu.Lock()
		defer w.mu.Unlock()
		restarts = w.restarts
		return w.checks >= checked+5
	})
	if restarts != 1 {
		t.Errorf("%d restarts of a watch that kept up, want still 1", restarts)
	}
}
