package relay

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/hooktap/hooktap/relay/natsnode"
)

// ChannelsBucket is the JetStream KV bucket of a cluster's channels.
const ChannelsBucket = "hooktap_channels"

// kvRegistry keeps the channels in the KV bucket hooktap_channels, one key
// per channel holding its token hash (never the token), URL secret and
// times. Every node watches the bucket and keeps the whole of it in
// memory: a change made on one node takes effect on the others as soon as
// the watch delivers it (a round trip through NATS), and the node's own
// changes at once.
type kvRegistry struct {
	channelCache
	kv jetstream.KeyValue
	js jetstream.JetStream // for the deliveries of a channel deleted

	revMu sync.Mutex
	rev   map[string]uint64 // newest revision applied per key, deletes too
	// writeMu is held across a write and its applyOwn, and by the watch
	// while it applies an entry: the echo of a node's own write, even one
	// that arrives before the write returns, is then never taken for
	// another node's.
	writeMu sync.Mutex

	watch *bucketWatch
	fn    atomic.Pointer[func(string, change)] // set by Watch: changes go to it from then on
}

// kvChannel is a channel's value in the bucket.
type kvChannel struct {
	TokenHash  string `json:"token_hash"` // hex SHA-256 of the agent token
	CreatedAt  int64  `json:"created_at"` // unix microseconds
	TokenSetAt int64  `json:"token_set_at"`
	URLSecret  string `json:"url_secret,omitempty"`
}

// openKVRegistry creates the bucket if needed (with the node's replica
// count) and reads all of it before returning.
func openKVRegistry(ctx context.Context, n *natsnode.Node, log *slog.Logger) (*kvRegistry, error) {
	kv, err := n.JS.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket:   ChannelsBucket,
		History:  1,
		Replicas: n.Replicas,
		Storage:  jetstream.FileStorage,
	})
	if err != nil {
		return nil, fmt.Errorf("open the channel bucket %s: %w", ChannelsBucket, err)
	}
	kv = withLeaderGets(kv, n.JS)
	r := &kvRegistry{
		channelCache: channelCache{known: map[string]registered{}},
		kv:           kv, js: n.JS, rev: map[string]uint64{},
	}
	// The watch outlives ctx (which only bounds the start).
	if r.watch, err = watchBucket(ctx, log, kv, ChannelsBucket, r.follow, r.resync); err != nil {
		return nil, fmt.Errorf("read the channel bucket: %w", err)
	}
	return r, nil
}

// follow applies a change, telling Watch's fn about one that concerns
// connected agents.
func (r *kvRegistry) follow(e jetstream.KeyValueEntry) {
	r.writeMu.Lock()
	name, c := r.apply(e)
	r.writeMu.Unlock()
	r.tell(name, c)
}

func (r *kvRegistry) tell(name string, c change) {
	if fn := r.fn.Load(); c != 0 && fn != nil && *fn != nil {
		(*fn)(name, c)
	}
}

// resync removes the channels deleted while the watch stalled (seen: the
// keys in the bucket now).
func (r *kvRegistry) resync(seen map[string]bool, before uint64) {
	r.writeMu.Lock()
	r.revMu.Lock()
	var gone []string
	for key, rev := range r.rev {
		if rev <= before && !seen[key] {
			r.rev[key] = before
			if r.remove(channelOfKey(key)) != 0 {
				gone = append(gone, channelOfKey(key))
			}
		}
	}
	r.revMu.Unlock()
	r.writeMu.Unlock()
	for _, name := range gone {
		r.tell(name, changeDeleted)
	}
}

// Watch starts passing changes to fn; before it, they are applied only.
func (r *kvRegistry) Watch(fn func(string, change)) {
	r.fn.Store(&fn)
}

// Close stops the watch.
func (r *kvRegistry) Close() {
	r.watch.Stop()
}

// apply puts one bucket entry into memory unless a newer revision of its
// key is there already (a node's own write is applied before its echo
// arrives), and says what changed for agents connected with the old value.
func (r *kvRegistry) apply(e jetstream.KeyValueEntry) (string, change) {
	name := channelOfKey(e.Key())
	r.revMu.Lock()
	defer r.revMu.Unlock()
	if e.Revision() <= r.rev[e.Key()] {
		return name, 0
	}
	r.rev[e.Key()] = e.Revision()
	if e.Operation() != jetstream.KeyValuePut {
		return name, r.remove(name)
	}
	var v kvChannel
	reg, err := v.registered(e.Value())
	if err != nil {
		return name, 0 // a value hooktap did not write: ignored, as if absent
	}
	return name, r.put(name, reg)
}

func (v *kvChannel) registered(b []byte) (registered, error) {
	var reg registered
	if err := json.Unmarshal(b, v); err != nil {
		return reg, err
	}
	h, err := hex.DecodeString(v.TokenHash)
	if err != nil || len(h) != sha256.Size {
		return reg, errors.New("malformed token hash")
	}
	copy(reg.hash[:], h)
	reg.createdAt, reg.tokenSetAt = time.UnixMicro(v.CreatedAt).UTC(), time.UnixMicro(v.TokenSetAt).UTC()
	reg.setURLSecret(v.URLSecret)
	return reg, nil
}

func (c *channelCache) put(name string, reg registered) change {
	c.mu.Lock()
	defer c.mu.Unlock()
	old, had := c.known[name]
	c.known[name] = reg
	switch {
	case !had:
		return 0
	case old.hash != reg.hash:
		return changeToken
	case old.urlSecret != reg.urlSecret:
		return changeURL
	}
	return 0
}

func (c *channelCache) remove(name string) change {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, had := c.known[name]; !had {
		return 0
	}
	delete(c.known, name)
	return changeDeleted
}

// applyOwn applies this node's own write at once (revision rev).
func (r *kvRegistry) applyOwn(name string, rev uint64, reg *registered) {
	r.revMu.Lock()
	defer r.revMu.Unlock()
	key := keyOfChannel(name)
	if rev <= r.rev[key] {
		return
	}
	r.rev[key] = rev
	if reg == nil {
		r.remove(name)
	} else {
		r.put(name, *reg)
	}
}

// Channel names may hold dots, which subjects and KV keys use as separators
// (and may not double or end with): every subject and key names a channel
// so; '=' is in no channel name.
func keyOfChannel(name string) string { return strings.ReplaceAll(name, ".", "=2e") }
func channelOfKey(key string) string  { return strings.ReplaceAll(key, "=2e", ".") }

func encodeChannel(reg registered) []byte {
	b, _ := json.Marshal(kvChannel{
		TokenHash: hex.EncodeToString(reg.hash[:]), CreatedAt: reg.createdAt.UnixMicro(),
		TokenSetAt: reg.tokenSetAt.UnixMicro(), URLSecret: reg.urlSecret,
	})
	return b
}

func (r *kvRegistry) Create(ctx context.Context, name string, secretURL bool) (string, error) {
	token := newToken()
	t := kvNow()
	reg := registered{hash: sha256.Sum256([]byte(token)), createdAt: t, tokenSetAt: t}
	if secretURL {
		reg.setURLSecret(newURLSecret())
	}
	r.writeMu.Lock()
	defer r.writeMu.Unlock()
	rev, err := r.kv.Create(ctx, keyOfChannel(name), encodeChannel(reg))
	if errors.Is(err, jetstream.ErrKeyExists) {
		return "", ErrChannelExists
	}
	if err != nil {
		return "", fmt.Errorf("create channel: %w", err)
	}
	r.applyOwn(name, rev, &reg)
	return token, nil
}

// update changes name's value with edit, compare-and-set on its revision
// so that two nodes rotating at once do not lose either write.
func (r *kvRegistry) update(ctx context.Context, name string, edit func(*registered)) error {
	key := keyOfChannel(name)
	r.writeMu.Lock()
	defer r.writeMu.Unlock()
	for {
		e, err := r.kv.Get(ctx, key)
		if errors.Is(err, jetstream.ErrKeyNotFound) {
			return ErrNoChannel
		}
		if err != nil {
			return err
		}
		var v kvChannel
		reg, err := v.registered(e.Value())
		if err != nil {
			return fmt.Errorf("channel %s: %w", name, err)
		}
		edit(&reg)
		rev, err := r.kv.Update(ctx, key, encodeChannel(reg), e.Revision())
		if err == nil {
			r.applyOwn(name, rev, &reg)
			return nil
		}
		var apiErr *jetstream.APIError
		if !errors.As(err, &apiErr) || apiErr.ErrorCode != jetstream.JSErrCodeStreamWrongLastSequence {
			return err
		}
		// Another node wrote first: read again.
	}
}

func (r *kvRegistry) Rotate(ctx context.Context, name string) (string, error) {
	token := newToken()
	err := r.update(ctx, name, func(reg *registered) {
		reg.hash, reg.tokenSetAt = sha256.Sum256([]byte(token)), kvNow()
	})
	if err != nil && !errors.Is(err, ErrNoChannel) {
		return "", fmt.Errorf("rotate token: %w", err)
	}
	return token, err
}

func (r *kvRegistry) RotateURL(ctx context.Context, name string) error {
	secret := newURLSecret()
	err := r.update(ctx, name, func(reg *registered) { reg.setURLSecret(secret) })
	if err != nil && !errors.Is(err, ErrNoChannel) {
		return fmt.Errorf("rotate URL: %w", err)
	}
	return err
}

// Delete drops the channel's deliveries from the stream, so that a channel
// created again under the name starts empty as on a single relay, then
// removes its key. (Deliveries that arrive between the two are left; the
// agents' cursors stay in their bucket, behind every new delivery.)
func (r *kvRegistry) Delete(ctx context.Context, name string) error {
	key := keyOfChannel(name)
	r.writeMu.Lock()
	defer r.writeMu.Unlock()
	e, err := r.kv.Get(ctx, key)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return ErrNoChannel
	}
	if err != nil {
		return fmt.Errorf("delete channel: %w", err)
	}
	st, err := r.js.Stream(ctx, streamName)
	if err == nil {
		err = st.Purge(ctx, jetstream.WithPurgeSubject(deliverySubject+keyOfChannel(name)))
	}
	if err != nil && !errors.Is(err, jetstream.ErrStreamNotFound) {
		return fmt.Errorf("delete channel: drop its deliveries: %w", err)
	}
	if err := r.kv.Delete(ctx, key, jetstream.LastRevision(e.Revision())); err != nil {
		return fmt.Errorf("delete channel: %w", err)
	}
	// The delete marker's revision is not returned; the next one up is at
	// most it, and the watch's echo (with the real one) finds it applied.
	r.applyOwn(name, e.Revision()+1, nil)
	return nil
}

// kvNow is the time as the bucket keeps it (microseconds), so that a node's
// own change reads the same as another node's copy of it.
func kvNow() time.Time { return time.Now().UTC().Truncate(time.Microsecond) }
