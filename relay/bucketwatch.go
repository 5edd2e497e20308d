package relay

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// bucketWatch keeps a node's copy of a KV bucket in step with it: apply
// gets every entry, then every change, on the watch's goroutine.
//
// A watch is an ordered consumer, which NATS places on one server. When
// that server dies, nats.go recreates the consumer elsewhere once it has
// missed its heartbeats, which took 15-20 s while a bucket of three
// replicas elected a leader (measured); and when the recreation fails in a
// way nats.go does not retry, the watch ends for good without a word. So
// every watchCheckEvery the watch's last revision is compared with the
// bucket's: a watch behind the bucket that has not moved since the last
// check is started again. The new one replays the bucket, and resync
// drops what went meanwhile.
type bucketWatch struct {
	kv     jetstream.KeyValue
	bucket string
	apply  func(jetstream.KeyValueEntry)
	// resync, if set, is called once a restart has replayed the bucket:
	// seen holds the keys whose entries it holds now; an entry the node
	// knew at revision before or earlier that is not in seen is gone.
	resync func(seen map[string]bool, before uint64)
	log    *slog.Logger
	stop   chan struct{}
	// watchCheckEvery and kvQuiet when it started (the goroutines must
	// not read variables tests set)
	every, quiet time.Duration

	mu       sync.Mutex
	w        jetstream.KeyWatcher
	gen      int    // which watch applies: an old one's late updates are dropped
	hi       uint64 // the highest revision applied
	restarts int
	checks   int
}

// watchCheckEvery is how often a node checks its watches (a variable for
// tests).
var watchCheckEvery = 5 * time.Second

// watchBucket starts a bucketWatch of kv and returns once apply has seen
// what the bucket held. It runs until stopped.
func watchBucket(ctx context.Context, log *slog.Logger, kv jetstream.KeyValue, bucket string, apply func(jetstream.KeyValueEntry), resync func(map[string]bool, uint64)) (*bucketWatch, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	b := &bucketWatch{kv: kv, bucket: bucket, apply: apply, resync: resync, log: log, stop: make(chan struct{}),
		every: watchCheckEvery, quiet: quietFor()}
	if err := b.start(ctx, false); err != nil {
		return nil, err
	}
	go b.check()
	return b, nil
}

// start starts a watch and waits until it has replayed the bucket;
// again: it replaces one that stalled.
func (b *bucketWatch) start(ctx context.Context, again bool) error {
	// The last revision now: what the replay brings covers it, even if
	// the newest entries were purged and never come.
	last, err := b.lastRevision(ctx)
	if err != nil {
		return fmt.Errorf("watch bucket %s: %w", b.bucket, err)
	}
	w, err := b.kv.WatchAll(context.Background())
	if err != nil {
		return fmt.Errorf("watch bucket %s: %w", b.bucket, err)
	}
	b.mu.Lock()
	select {
	case <-b.stop: // stopped meanwhile
		b.mu.Unlock()
		w.Stop()
		return errors.New("watch stopped")
	default:
	}
	old, before := b.w, b.hi
	b.w = w
	b.gen++
	gen := b.gen
	b.mu.Unlock()
	if old != nil {
		old.Stop()
	}
	var seen map[string]bool
	if again {
		seen = map[string]bool{}
	}
	ready := make(chan struct{})
	go b.follow(w, gen, last, seen, before, ready)
	select {
	case <-ready:
		return nil
	case <-ctx.Done():
		w.Stop()
		return fmt.Errorf("watch bucket %s: %w", b.bucket, ctx.Err())
	}
}

// follow applies what watch gen brings. Its replay of the bucket is in
// (ready) at nats.go's "caught up" marker, or once it reaches last, the
// bucket's revision when it started, or when nothing came for kvQuiet: the
// marker never comes when an entry pending at the start was purged
// meanwhile (kvread.go).
func (b *bucketWatch) follow(w jetstream.KeyWatcher, gen int, last uint64, seen map[string]bool, before uint64, ready chan struct{}) {
	replaying := true
	var got uint64 // the newest revision this watch brought
	replayed := func() bool {
		b.mu.Lock()
		ok := b.gen == gen
		if ok {
			b.hi = max(b.hi, last)
		}
		b.mu.Unlock()
		if ok {
			replaying = false
			if seen != nil && b.resync != nil {
				b.resync(seen, before)
			}
			close(ready)
		}
		return ok
	}
	quiet := time.NewTimer(b.quiet)
	defer quiet.Stop()
	for {
		var e jetstream.KeyValueEntry
		select {
		case u, ok := <-w.Updates():
			if !ok {
				return
			}
			e = u
		case <-quiet.C:
			if replaying && !replayed() {
				return
			}
			continue
		}
		if e == nil { // the marker
			if replaying && !replayed() {
				return
			}
			continue
		}
		b.mu.Lock()
		if b.gen != gen {
			b.mu.Unlock()
			return
		}
		b.hi = max(b.hi, e.Revision())
		if replaying {
			quiet.Reset(b.quiet)
			if seen != nil && e.Operation() == jetstream.KeyValuePut {
				seen[e.Key()] = true
			}
		}
		got = max(got, e.Revision())
		b.mu.Unlock()
		b.apply(e)
		if replaying && got >= last && !replayed() {
			return
		}
	}
}

// lastRevision is the bucket's last revision.
func (b *bucketWatch) lastRevision(ctx context.Context) (uint64, error) {
	st, err := b.kv.Status(ctx)
	if err != nil {
		return 0, err
	}
	if s, ok := st.(*jetstream.KeyValueBucketStatus); ok {
		return s.StreamInfo().State.LastSeq, nil
	}
	return 0, nil
}

// check starts the watch again when it is behind the bucket and has not
// moved for a check.
func (b *bucketWatch) check() {
	t := time.NewTicker(b.every)
	defer t.Stop()
	behind, at := false, uint64(0) // behind the bucket at the last check, at revision at
	for {
		select {
		case <-b.stop:
			return
		case <-t.C:
		}
		ctx, cancel := context.WithTimeout(context.Background(), clusterTimeout)
		last, err := b.lastRevision(ctx)
		b.mu.Lock()
		hi := b.hi
		b.checks++
		b.mu.Unlock()
		switch {
		case err != nil || last <= hi:
			behind = false
		case !behind || at != hi:
			behind, at = true, hi // stalled if it has not moved at the next check
		default:
			err := b.start(ctx, true)
			b.log.Warn("cluster: a watch stalled, started again", "bucket", b.bucket, "at", hi, "bucket_at", last, "err", err)
			if err == nil {
				b.mu.Lock()
				b.restarts++
				b.mu.Unlock()
			}
			behind = false
		}
		cancel()
	}
}

// Stop ends the watch.
func (b *bucketWatch) Stop() {
	if b == nil {
		return
	}
	select {
	case <-b.stop:
		return
	default:
		close(b.stop)
	}
	b.mu.Lock()
	w := b.w
	b.gen++
	b.mu.Unlock()
	if w != nil {
		w.Stop()
	}
}
