package relay

import (
	"context"
	"errors"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// kvQuiet is how long kvCurrent waits for the next entry before it takes
// those it has for all there are (nats.go's older KV API waits as long).
// Atomic: tests set it while other tests' pruning may still read it.
var kvQuiet atomic.Int64

func init() { kvQuiet.Store(int64(5 * time.Second)) }

func quietFor() time.Duration { return time.Duration(kvQuiet.Load()) }

// kvCurrent returns the entries of kv's keys that match keys (with opts:
// their history, say) as a watch delivers them up to its "caught up"
// marker. nats.go's jetstream watcher counts the entries pending when it
// starts and sends that marker only once as many have come: an entry
// deleted or purged meanwhile (another node purging delete markers) never
// comes, and neither does the marker. Its KeyValue.History, Keys and
// PurgeDeletes wait for it for ever; here the read also ends once nothing
// came for kvQuiet, or when ctx ends.
func kvCurrent(ctx context.Context, kv jetstream.KeyValue, keys string, opts ...jetstream.WatchOpt) ([]jetstream.KeyValueEntry, error) {
	w, err := kv.Watch(ctx, keys, opts...)
	if err != nil {
		return nil, err
	}
	defer w.Stop()
	wait := quietFor()
	quiet := time.NewTimer(wait)
	defer quiet.Stop()
	var out []jetstream.KeyValueEntry
	for {
		select {
		case e, ok := <-w.Updates():
			if !ok {
				return out, errors.New("read bucket " + kv.Bucket() + ": the watch ended")
			}
			if e == nil {
				return out, nil
			}
			out = append(out, e)
			quiet.Reset(wait)
		case <-quiet.C:
			return out, nil // the rest went while it was read
		case <-ctx.Done():
			return out, ctx.Err()
		}
	}
}

// purgeDeletes is kv.PurgeDeletes(ctx, DeleteMarkersOlderThan(olderThan))
// on kvCurrent: it drops the delete markers older than olderThan, and the
// history behind the younger ones.
func purgeDeletes(ctx context.Context, js jetstream.JetStream, kv jetstream.KeyValue, olderThan time.Duration) error {
	es, err := kvCurrent(ctx, kv, jetstream.AllKeys)
	if err != nil {
		return err
	}
	limit := time.Now().Add(-olderThan)
	var st jetstream.Stream
	for _, e := range es {
		if op := e.Operation(); op != jetstream.KeyValueDelete && op != jetstream.KeyValuePurge {
			continue
		}
		if st == nil {
			if st, err = js.Stream(ctx, "KV_"+kv.Bucket()); err != nil {
				return err
			}
		}
		opts := []jetstream.StreamPurgeOpt{jetstream.WithPurgeSubject("$KV." + kv.Bucket() + "." + e.Key())}
		if e.Created().After(limit) {
			opts = append(opts, jetstream.WithPurgeKeep(1))
		}
		if err := st.Purge(ctx, opts...); err != nil {
			return err
		}
	}
	return nil
}
