package relay

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/hooktap/hooktap/relay/natsnode/natstest"
)

// A read of a key's history while another node purges the key (as nodes
// purge delete markers) returns: nats.go's watcher counted the marker as
// pending, the purge took it before it came, and KeyValue.History waited
// for it for ever (1 read in 15 or so; TestClusterDeleteMarkersPurged hung
// so). The race is in the timing: 300 reads make a hang all but certain.
func TestKVReadRacingPurge(t *testing.T) {
	quiet := kvQuiet.Load()
	kvQuiet.Store(int64(200 * time.Millisecond))
	t.Cleanup(func() { kvQuiet.Store(quiet) })
	c := natstest.Cluster(t, 3)
	ctx := t.Context()
	kv, err := c.Node(t, 0).JS.CreateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: "hooktap_race", Replicas: 3})
	if err != nil {
		t.Fatal(err)
	}
	st, err := c.Node(t, 1).JS.Stream(ctx, "KV_hooktap_race")
	if err != nil {
		t.Fatal(err)
	}
	for i := range 300 {
		k := fmt.Sprintf("k%d", i)
		if _, err := kv.Put(ctx, k, []byte("v")); err != nil {
			t.Fatal(err)
		}
		if err := kv.Delete(ctx, k); err != nil {
			t.Fatal(err)
		}
		purged := make(chan error, 1)
		go func() {
			time.Sleep(time.Duration(i%10) * 100 * time.Microsecond) // spread over the read's start
			purged <- st.Purge(ctx, jetstream.WithPurgeSubject("$KV.hooktap_race."+k))
		}()
		read := make(chan error, 1)
		go func() {
			rctx, cancel := context.WithTimeout(ctx, time.Minute)
			defer cancel()
			_, err := kvCurrent(rctx, kv, k, jetstream.IncludeHistory())
			read <- err
		}()
		select {
		case err := <-read:
			if err != nil {
				t.Fatalf("read %d: %v", i, err)
			}
		case <-time.After(quietFor() + 10*time.Second):
			t.Fatalf("read %d still waits for what the purge took", i)
		}
		if err := <-purged; err != nil {
			t.Fatal(err)
		}
	}
}

// purgeDeletes drops the markers older than its limit with their keys'
// history, and the history behind the younger ones, as PurgeDeletes does.
func TestPurgeDeletes(t *testing.T) {
	node := natstest.Cluster(t, 1).Node(t, 0)
	ctx := t.Context()
	kv, err := node.JS.CreateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: "hooktap_purge", History: 5})
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"old", "young", "kept"} {
		if _, err := kv.Put(ctx, k, []byte("v")); err != nil {
			t.Fatal(err)
		}
	}
	if err := kv.Delete(ctx, "old"); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond) // ages the first marker: the one thing to wait for
	if err := kv.Delete(ctx, "young"); err != nil {
		t.Fatal(err)
	}
	if err := purgeDeletes(ctx, node.JS, kv, 200*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	for k, want := range map[string][]jetstream.KeyValueOp{
		"old":   nil,
		"young": {jetstream.KeyValueDelete},
		"kept":  {jetstream.KeyValuePut},
	} {
		h, err := kvCurrent(ctx, kv, k, jetstream.IncludeHistory())
		if err != nil {
			t.Fatal(err)
		}
		var got []jetstream.KeyValueOp
		for _, e := range h {
			got = append(got, e.Operation())
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("%s: history %v, want %v", k, got, want)
		}
	}
}
