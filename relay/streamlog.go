package relay

import (
	"cmp"
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/hooktap/hooktap/relay/natsnode"
	"github.com/hooktap/hooktap/relay/wire"
)

// streamLog is the cluster's Storage (log.go), in JetStream:
//
//   - Deliveries are messages of the stream HOOKTAP_DELIVERIES on subject
//     hooktap.d.<channel>, the request's fields in headers (headerID...)
//     and its body as the data; Nats-Msg-Id is the delivery id, so that a
//     publish retried after a lost PubAck is stored once. A delivery's
//     seq is its stream sequence: it grows per channel, with gaps (other
//     channels' deliveries), which agents and cursors take as they are.
//     --buffer-ttl and --buffer-max are the stream's MaxAge and
//     MaxMsgsPerSubject: JetStream prunes.
//   - Cursors are entries of the KV bucket hooktap_cursors, one per
//     channel and agent (<channel>.<hex of the id>: the agent's seq and
//     key hash), and one per channel for the furthest of them
//     (_furthest.<channel>), where a new agent starts.
//   - Unclaimed deliveries are entries of the KV bucket hooktap_unclaimed
//     (channel and seq, the event as the value), written before the sender
//     hears that a delivery no connected agent subscribes to is kept, and
//     when an agent leaves with deliveries in flight; an ack deletes them.
//     Every node watches the bucket, so reading it costs no request.
type streamLog struct {
	js        jetstream.JetStream
	stream    jetstream.Stream
	cursors   jetstream.KeyValue
	unclaimed jetstream.KeyValue
	timeout   time.Duration // how long Append keeps trying
	reply     string        // this node's subject for answers (Hooktap-Reply)

	// left is called when another node writes what an agent left in
	// flight (its sessions of channel may take it).
	left func(channel string)

	mu      sync.Mutex
	pending map[string]map[int64]Event // the unclaimed bucket, by channel and seq
	// furthestSeen is how far this node has raised each channel's
	// furthest cursor (raiseFurthest).
	furthestSeen map[string]int64
	markersKept  time.Duration // markersKept when it opened
	watch        *bucketWatch
	log          *slog.Logger
	// claimed: the latest claims (guarded by mu). An entry that reaches
	// the watch after its delivery's ack here is one written before the
	// ack (mark, then Claim at once) or after it (a second agent that had
	// it in flight left): claimed either way, it is deleted, not adopted.
	claimed recentClaims
}

// recentClaims remembers the last claims, for claimsKept or the last
// recentMax of them, whichever is fewer. An unclaimed entry that another
// node wrote (it counted no agent: a node frozen with its agent, say) may
// reach this node's watch after the agent's ack here; it is looked up
// then. Entries are rare, acks are not: a ring, scanned per entry.
type recentClaims struct {
	ring []claimedAt
	next int // where the next claim goes once the ring is full
}

type claimedAt struct {
	channel string
	seq, at int64 // at: unix nanoseconds
}

const (
	recentMax  = 1 << 17
	claimsKept = 2 * time.Minute
)

func (r *recentClaims) add(channel string, seq int64) {
	c := claimedAt{channel, seq, time.Now().UnixNano()}
	if len(r.ring) < recentMax {
		r.ring = append(r.ring, c)
		return
	}
	r.ring[r.next] = c
	r.next = (r.next + 1) % recentMax
}

func (r *recentClaims) has(channel string, seq int64) bool {
	since := time.Now().Add(-claimsKept).UnixNano()
	for _, c := range r.ring {
		if c.seq == seq && c.channel == channel && c.at > since {
			return true
		}
	}
	return false
}

// trim lets the ring go once its newest claim is older than claimsKept:
// an idle relay keeps none.
func (r *recentClaims) trim() {
	if len(r.ring) == 0 {
		return
	}
	newest := r.ring[len(r.ring)-1]
	if len(r.ring) == recentMax {
		newest = r.ring[(r.next+recentMax-1)%recentMax]
	}
	if newest.at < time.Now().Add(-claimsKept).UnixNano() {
		*r = recentClaims{}
	}
}

const (
	streamName      = "HOOKTAP_DELIVERIES"
	deliverySubject = "hooktap.d."
	bucketCursors   = "hooktap_cursors"
	bucketUnclaimed = "hooktap_unclaimed"
)

var _ Storage = (*streamLog)(nil)

// openStreamLog creates (or updates) the stream and buckets, and reads
// the unclaimed bucket.
func openStreamLog(ctx context.Context, node *natsnode.Node, cfg Config, reply string, left func(channel string)) (*streamLog, error) {
	perSubject := int64(cfg.BufferMax)
	if perSubject <= 0 {
		perSubject = -1
	}
	st, err := node.JS.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name:              streamName,
		Subjects:          []string{deliverySubject + ">"},
		Storage:           jetstream.FileStorage,
		Replicas:          node.Replicas,
		MaxAge:            cfg.BufferTTL,
		MaxMsgsPerSubject: perSubject,
		Discard:           jetstream.DiscardOld,
		Duplicates:        min(2*time.Minute, cfg.BufferTTL),
		RePublish:         &jetstream.RePublish{Source: deliverySubject + ">", Destination: "hooktap.live.>"},
	})
	if err != nil {
		return nil, fmt.Errorf("create stream %s: %w", streamName, err)
	}
	cursors, err := node.JS.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket: bucketCursors, Replicas: node.Replicas, Storage: jetstream.FileStorage,
	})
	if err != nil {
		return nil, fmt.Errorf("create bucket %s: %w", bucketCursors, err)
	}
	unclaimed, err := node.JS.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket: bucketUnclaimed, Replicas: node.Replicas, Storage: jetstream.FileStorage,
		TTL: cfg.BufferTTL, // what the stream no longer has is nobody's
	})
	if err != nil {
		return nil, fmt.Errorf("create bucket %s: %w", bucketUnclaimed, err)
	}
	cursors, unclaimed = withLeaderGets(cursors, node.JS), withLeaderGets(unclaimed, node.JS)
	l := &streamLog{js: node.JS, stream: st, cursors: cursors, unclaimed: unclaimed,
		timeout: cfg.ResponseTimeout, reply: reply, left: left, pending: map[string]map[int64]Event{}, furthestSeen: map[string]int64{}, markersKept: markersKept, log: cfg.Logger}
	if l.log == nil {
		l.log = slog.New(slog.DiscardHandler)
	}
	if err := l.watchUnclaimed(ctx); err != nil {
		return nil, err
	}
	return l, nil
}

// Headers of a delivery in the stream. Free text is query-escaped: a
// header value holds no line break.
const (
	headerID         = "Hooktap-Id"
	headerReceived   = "Hooktap-Received" // Unix microseconds
	headerMethod     = "Hooktap-Method"
	headerPath       = "Hooktap-Path"
	headerQuery      = "Hooktap-Query"
	headerRequest    = "Hooktap-Header" // the request's header, base64 of wire.AppendHeader
	headerRemote     = "Hooktap-Remote"
	headerHost       = "Hooktap-Host"
	headerProto      = "Hooktap-Proto"
	headerEvent      = "Hooktap-Event" // what filters look at
	headerObjectType = "Hooktap-Object-Type"
	headerEntity     = "Hooktap-Entity"
	headerReply      = "Hooktap-Reply" // where the agent's answer goes
)

// message is d as the stream keeps it; reply names the node that waits.
func message(d *wire.Delivery, reply string) *nats.Msg {
	ev := EventOf(d.Fields)
	h := nats.Header{
		headerID:       {d.ID},
		headerReceived: {strconv.FormatInt(d.ReceivedAt.UnixMicro(), 10)},
		headerMethod:   {d.Method},
		headerPath:     {escape(d.Path)},
		headerQuery:    {escape(d.Query)},
		headerRequest:  {base64.RawStdEncoding.EncodeToString(wire.AppendHeader(nil, d.Header))},
		headerRemote:   {escape(d.RemoteAddr)},
		headerHost:     {escape(d.Host)},
		headerProto:    {d.Proto},
	}
	for k, v := range map[string]string{headerEvent: ev.Action, headerObjectType: ev.ObjectType, headerEntity: ev.EntityID, headerReply: reply} {
		if v != "" {
			h[k] = []string{escape(v)}
		}
	}
	return &nats.Msg{Subject: deliverySubject + keyOfChannel(d.Channel), Header: h, Data: d.Body}
}

// decodeDelivery reads a delivery of channel from a stream message's
// headers and data (its Seq is the caller's to set).
func decodeDelivery(channel string, h nats.Header, data []byte) (*wire.Delivery, error) {
	us, err := strconv.ParseInt(h.Get(headerReceived), 10, 64)
	if err != nil {
		return nil, errors.New("no receive time")
	}
	raw, err := base64.RawStdEncoding.DecodeString(h.Get(headerRequest))
	if err != nil {
		return nil, errors.New("bad request header")
	}
	hdr, err := wire.DecodeHeader(raw)
	if err != nil || hdr == nil {
		hdr = http.Header{}
	}
	return &wire.Delivery{
		ID:         h.Get(headerID),
		Channel:    channel,
		ReceivedAt: time.UnixMicro(us).UTC(),
		Method:     h.Get(headerMethod),
		Path:       unescape(h.Get(headerPath)),
		Query:      unescape(h.Get(headerQuery)),
		Header:     hdr,
		Body:       data,
		RemoteAddr: unescape(h.Get(headerRemote)),
		Host:       unescape(h.Get(headerHost)),
		Proto:      h.Get(headerProto),
	}, nil
}

var escaper = strings.NewReplacer("%", "%25", "\r", "%0D", "\n", "%0A")

func escape(s string) string { return escaper.Replace(s) }

func unescape(s string) string {
	if !strings.Contains(s, "%") {
		return s
	}
	return strings.NewReplacer("%0D", "\r", "%0A", "\n", "%25", "%").Replace(s)
}

func parseUint(s string) (int64, error) {
	n, err := strconv.ParseUint(s, 10, 63)
	return int64(n), err
}

// Append implements Log: d is stored once the stream's PubAck says so
// (durable as its replicas are). A publish that fails is retried with the
// same Nats-Msg-Id until the response timeout: a leader lost mid-way
// stores it once.
func (l *streamLog) Append(ctx context.Context, d *wire.Delivery, publish Publish) error {
	var unmatched bool
	if publish != nil {
		var send func()
		unmatched, send = publish()
		if send != nil {
			send() // this node's sessions get d from the stream, not from here
		}
	}
	msg := message(d, l.reply)
	// Not abandoned when the sender goes: it is owed the truth, and a
	// half-stored delivery is still stored.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), l.timeout)
	defer cancel()
	var ack *jetstream.PubAck
	for {
		var err error
		if fail := publishFault.Load(); fail != nil {
			err = (*fail)()
		}
		if err == nil {
			actx, acancel := context.WithTimeout(ctx, 2*time.Second)
			ack, err = l.js.PublishMsg(actx, msg, jetstream.WithMsgID(d.ID), jetstream.WithExpectStream(streamName))
			acancel()
		}
		if err == nil {
			break
		}
		if ctx.Err() != nil {
			return fmt.Errorf("store delivery: %w", err)
		}
		select { // the cluster elects a leader, or the connection moves
		case <-time.After(50 * time.Millisecond):
		case <-ctx.Done():
			return fmt.Errorf("store delivery: %w", err)
		}
	}
	d.Seq = int64(ack.Sequence)
	if unmatched {
		if fail := markFault.Load(); fail != nil {
			if err := (*fail)(); err != nil {
				return l.unkept(d, err)
			}
		}
		if err := l.mark(ctx, d.Channel, Pending{d.Seq, EventOf(d.Fields)}, false); err != nil {
			return l.unkept(d, err)
		}
	}
	return nil
}

// errWithdrawn: a delivery was stored, and withdrawn from the stream as
// its unclaimed entry could not be written. The stream republished it
// when it stored it: an agent the node did not count may have it.
var errWithdrawn = errors.New("withdrawn")

// publishFault, set by tests, fails publishes as a stream without a leader
// does.
var publishFault atomic.Pointer[func() error]

// markFault, set by tests, fails the write of an unclaimed entry as a
// bucket without a leader does.
var markFault atomic.Pointer[func() error]

// unkept withdraws d, whose unclaimed entry could not be written (err):
// its sender is told to retry, and the retry is the copy that counts, so
// this one must reach no agent that connects later (the next to connect
// reads the stream from its start or its cursor).
func (l *streamLog) unkept(d *wire.Delivery, err error) error {
	if derr := l.withdraw(d.Seq); derr != nil {
		return fmt.Errorf("keep delivery unclaimed: %w (and withdraw it: %v)", err, derr)
	}
	return fmt.Errorf("keep delivery unclaimed: %w (%w)", err, errWithdrawn)
}

// withdraw deletes seq from the stream, on a context of its own: the
// append's may be what ran out.
func (l *streamLog) withdraw(seq int64) error {
	ctx, cancel := context.WithTimeout(context.Background(), clusterTimeout)
	defer cancel()
	return l.stream.DeleteMsg(ctx, uint64(seq))
}

// Forget implements Log.
func (l *streamLog) Forget(channel string, seq int64) {
	l.Claim(channel, seq)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), clusterTimeout)
		defer cancel()
		l.stream.DeleteMsg(ctx, uint64(seq))
	}()
}

// Head implements Log.
func (l *streamLog) Head(ctx context.Context, channel string) (int64, error) {
	m, err := l.stream.GetLastMsgForSubject(ctx, deliverySubject+keyOfChannel(channel))
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("read channel head: %w", err)
	}
	return int64(m.Sequence), nil
}

// Settled implements Log: Append returns once the stream has d, and
// agents get it only from the stream.
func (l *streamLog) Settled(context.Context, string) error { return nil }

// After implements Log, reading the stream's leader a message at a time
// (the next one of the channel's subject): no consumer is left behind.
func (l *streamLog) After(ctx context.Context, channel string, after int64, limit, maxBytes int) (out []*wire.Delivery, more bool, err error) {
	size := 0
	next := uint64(after + 1)
	for len(out) < limit {
		if size >= maxBytes {
			return out, true, nil
		}
		m, err := l.stream.GetMsg(ctx, next, jetstream.WithGetMsgSubject(deliverySubject+keyOfChannel(channel)))
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			return out, false, nil
		}
		if err != nil {
			return nil, false, fmt.Errorf("read stream: %w", err)
		}
		d, err := decodeDelivery(channel, m.Header, m.Data)
		if err != nil {
			return nil, false, fmt.Errorf("read stream: seq %d: %w", m.Sequence, err)
		}
		d.Seq = int64(m.Sequence)
		out = append(out, d)
		size += len(d.Body)
		next = m.Sequence + 1
	}
	return out, true, nil
}

// Deliveries implements Log.
func (l *streamLog) Deliveries(ctx context.Context, channel string, seqs []int64, maxBytes int) (ds []*wire.Delivery, rest []int64, err error) {
	size := 0
	for i, seq := range seqs {
		if size >= maxBytes {
			return ds, seqs[i:], nil
		}
		m, err := l.stream.GetMsg(ctx, uint64(seq))
		if errors.Is(err, jetstream.ErrMsgNotFound) || err == nil && m.Subject != deliverySubject+keyOfChannel(channel) {
			l.Claim(channel, seq) // gone: nobody's to take
			continue
		}
		if err != nil {
			return nil, nil, fmt.Errorf("read stream: %w", err)
		}
		d, err := decodeDelivery(channel, m.Header, m.Data)
		if err != nil {
			return nil, nil, fmt.Errorf("read stream: seq %d: %w", seq, err)
		}
		d.Seq = seq
		ds = append(ds, d)
		size += len(d.Body)
	}
	return ds, nil, nil
}

// Prune implements Log: the stream's limits prune deliveries, and the
// unclaimed bucket's TTL what was left of them. Cursors go as on a single
// relay (pruneCursors): those of agents not connected to any node, not
// moved since cutoff, with nothing of their channel left after them. Every
// node prunes; a delete names the revision it read, so that a cursor
// moved or bound again meanwhile stays.
func (l *streamLog) Prune(ctx context.Context, cutoff time.Time, _ int, connected func(string, string) bool) (int64, error) {
	l.mu.Lock()
	l.claimed.trim()
	l.mu.Unlock()
	all, err := kvCurrent(ctx, l.cursors, jetstream.AllKeys)
	if err != nil {
		return 0, fmt.Errorf("read cursors: %w", err)
	}
	var stale []jetstream.KeyValueEntry
	markers := false // delete markers old enough to purge
	for _, e := range all {
		switch {
		case e.Operation() != jetstream.KeyValuePut:
			markers = markers || time.Since(e.Created()) > l.markersKept
		case !strings.HasPrefix(e.Key(), furthestPrefix) && e.Created().Before(cutoff):
			stale = append(stale, e)
		}
	}
	// A delete leaves a marker per key, which would add up over the agent
	// ids ever seen: markers go once no watcher can still be catching up.
	if markers {
		if err := purgeDeletes(ctx, l.js, l.cursors, l.markersKept); err != nil {
			return 0, fmt.Errorf("prune cursors: %w", err)
		}
	}
	heads := map[string]int64{}
	for _, e := range stale {
		k := e.Key()
		i := strings.LastIndexByte(k, '.')
		id, err := hex.DecodeString(k[i+1:])
		var c cursorEntry
		if i < 0 || err != nil || json.Unmarshal(e.Value(), &c) != nil {
			continue // not a cursor
		}
		channel := channelOfKey(k[:i])
		head, ok := heads[channel]
		if !ok {
			if head, err = l.Head(ctx, channel); err != nil {
				return 0, err
			}
			heads[channel] = head
		}
		if head > c.Seq || connected != nil && connected(channel, string(id)) {
			continue
		}
		if err := l.cursors.Delete(ctx, k, jetstream.LastRevision(e.Revision())); err != nil && !changedSince(err) {
			return 0, fmt.Errorf("prune cursors: %w", err)
		}
	}
	return 0, nil
}

// Depth implements Log.
func (l *streamLog) Depth(ctx context.Context) (map[string]int64, error) {
	info, err := l.stream.Info(ctx, jetstream.WithSubjectFilter(deliverySubject+">"))
	if err != nil {
		return nil, err
	}
	out := make(map[string]int64, len(info.State.Subjects))
	for subj, n := range info.State.Subjects {
		out[channelOfKey(strings.TrimPrefix(subj, deliverySubject))] = int64(n)
	}
	return out, nil
}

// Close implements Log.
func (l *streamLog) Close() error {
	l.watch.Stop()
	return nil
}

// agentKey is a KV key for an agent of a channel: ids may hold characters
// keys do not.
func agentKey(channel, agentID string) string {
	return keyOfChannel(channel) + "." + hex.EncodeToString([]byte(agentID))
}

type cursorEntry struct {
	Seq     int64  `json:"seq"`
	KeyHash string `json:"key"`
}

// Bind implements Cursors.
func (l *streamLog) Bind(ctx context.Context, channel, agentID, keyHash string) (int64, error) {
	k := agentKey(channel, agentID)
	for range 5 {
		e, err := l.cursors.Get(ctx, k)
		if err == nil {
			var c cursorEntry
			if err := json.Unmarshal(e.Value(), &c); err != nil {
				return 0, fmt.Errorf("read cursor: %w", err)
			}
			if c.KeyHash != keyHash {
				return 0, ErrAgentTaken
			}
			return c.Seq, nil
		}
		if !errors.Is(err, jetstream.ErrKeyNotFound) {
			return 0, fmt.Errorf("read cursor: %w", err)
		}
		start, err := l.furthest(ctx, channel)
		if err != nil {
			return 0, err
		}
		v, _ := json.Marshal(cursorEntry{start, keyHash})
		// Create: of two hellos with the same new id, one wins.
		if _, err := l.cursors.Create(ctx, k, v); err == nil {
			return start, nil
		} else if !errors.Is(err, jetstream.ErrKeyExists) {
			return 0, fmt.Errorf("bind agent: %w", err)
		}
	}
	return 0, errors.New("bind agent: the cursor keeps changing")
}

// furthestPrefix names the entry of a channel's furthest cursor (channel
// names start with a letter or digit): one read for a new agent, however
// many agents the channel has.
const furthestPrefix = "_furthest."

// furthest is the furthest any agent of channel has acknowledged.
func (l *streamLog) furthest(ctx context.Context, channel string) (int64, error) {
	e, err := l.cursors.Get(ctx, furthestPrefix+keyOfChannel(channel))
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("read cursors: %w", err)
	}
	return parseUint(string(e.Value()))
}

// raiseFurthest moves channel's furthest cursor up to seq.
func (l *streamLog) raiseFurthest(ctx context.Context, channel string, seq int64) error {
	l.mu.Lock()
	known := l.furthestSeen[channel]
	if seq > known {
		l.furthestSeen[channel] = seq
	}
	l.mu.Unlock()
	if seq <= known {
		return nil // this node raised it that far already
	}
	k, v := furthestPrefix+keyOfChannel(channel), []byte(strconv.FormatInt(seq, 10))
	var err error
	for range 3 {
		var e jetstream.KeyValueEntry
		e, err = l.cursors.Get(ctx, k)
		if errors.Is(err, jetstream.ErrKeyNotFound) {
			if _, err = l.cursors.Create(ctx, k, v); err == nil {
				return nil
			}
			continue
		}
		if err != nil {
			return err
		}
		if cur, _ := parseUint(string(e.Value())); seq <= cur {
			return nil
		}
		if _, err = l.cursors.Update(ctx, k, v, e.Revision()); err == nil {
			return nil
		}
	}
	return err
}

// SetCursors implements Cursors: an update that lost a race with another
// is tried again, and a cursor only moves forward.
func (l *streamLog) SetCursors(cs []Cursor) <-chan error {
	done := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), clusterTimeout)
		defer cancel()
		var first error
		for _, c := range cs {
			if err := l.setCursor(ctx, c); err != nil && first == nil {
				first = err
			}
		}
		done <- first
	}()
	return done
}

func (l *streamLog) setCursor(ctx context.Context, c Cursor) error {
	k := agentKey(c.Channel, c.AgentID)
	var err error
	for range 3 {
		var e jetstream.KeyValueEntry
		e, err = l.cursors.Get(ctx, k)
		if err != nil {
			return err // pruned, or not bound: nothing to move
		}
		var cur cursorEntry
		if err := json.Unmarshal(e.Value(), &cur); err != nil {
			return err
		}
		if c.Seq <= cur.Seq {
			return nil
		}
		cur.Seq = c.Seq
		v, _ := json.Marshal(cur)
		if _, err = l.cursors.Update(ctx, k, v, e.Revision()); err == nil {
			return l.raiseFurthest(ctx, c.Channel, c.Seq)
		}
	}
	return err
}

// unclaimedKey names an unclaimed delivery in its bucket.
func unclaimedKey(channel string, seq int64) string {
	return keyOfChannel(channel) + "." + strconv.FormatInt(seq, 10)
}

// watchUnclaimed keeps pending in step with the unclaimed bucket; it
// returns once pending holds what the bucket held when it was called.
func (l *streamLog) watchUnclaimed(ctx context.Context) error {
	w, err := watchBucket(ctx, l.log, l.unclaimed, bucketUnclaimed, l.noteUnclaimed, l.resyncUnclaimed)
	l.watch = w
	return err
}

// resyncUnclaimed drops what was claimed while the watch stalled (seen:
// the keys in the bucket now). One marked meanwhile that the new watch
// brings only after its replay goes for as long as that takes.
func (l *streamLog) resyncUnclaimed(seen map[string]bool, _ uint64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for channel, ps := range l.pending {
		for seq := range ps {
			if !seen[unclaimedKey(channel, seq)] {
				delete(ps, seq)
			}
		}
		if len(ps) == 0 {
			delete(l.pending, channel)
		}
	}
}

func (l *streamLog) noteUnclaimed(e jetstream.KeyValueEntry) {
	i := strings.LastIndexByte(e.Key(), '.')
	seq, err := parseUint(e.Key()[i+1:])
	if i < 0 || err != nil {
		return
	}
	channel := channelOfKey(e.Key()[:i])
	l.mu.Lock()
	defer l.mu.Unlock()
	if e.Operation() != jetstream.KeyValuePut {
		delete(l.pending[channel], seq)
		if len(l.pending[channel]) == 0 {
			delete(l.pending, channel)
		}
		return
	}
	var u unclaimedEntry
	if json.Unmarshal(e.Value(), &u) != nil {
		return
	}
	if l.claimed.has(channel, seq) {
		// Kept by another node that counted no agent, and acked here
		// before this node's watch brought the entry: claimed, not the
		// next agent's.
		rev := e.Revision()
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), clusterTimeout)
			defer cancel()
			l.unclaimed.Delete(ctx, e.Key(), jetstream.LastRevision(rev))
		}()
		return
	}
	if l.pending[channel] == nil {
		l.pending[channel] = map[int64]Event{}
	}
	_, known := l.pending[channel][seq]
	l.pending[channel][seq] = u.Event
	if u.Left && !known && l.left != nil {
		go l.left(channel)
	}
}

// unclaimedEntry is the value of an entry of the unclaimed bucket.
type unclaimedEntry struct {
	Event
	Left bool `json:"left,omitempty"` // an agent left it in flight
}

// mark writes p of channel as unclaimed; left: an agent left it in flight.
func (l *streamLog) mark(ctx context.Context, channel string, p Pending, left bool) error {
	v, _ := json.Marshal(unclaimedEntry{p.Event, left})
	if _, err := l.unclaimed.Put(ctx, unclaimedKey(channel, p.Seq), v); err != nil {
		return err
	}
	// Now, not when the watch brings it: an ack may come first.
	l.mu.Lock()
	if l.pending[channel] == nil {
		l.pending[channel] = map[int64]Event{}
	}
	l.pending[channel][p.Seq] = p.Event
	l.mu.Unlock()
	return nil
}

// Claim implements Claims.
func (l *streamLog) Claim(channel string, seq int64) {
	l.mu.Lock()
	_, ok := l.pending[channel][seq]
	delete(l.pending[channel], seq) // the watch confirms it
	l.claimed.add(channel, seq)
	l.mu.Unlock()
	if !ok {
		return // the common case: it never was unclaimed
	}
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), clusterTimeout)
		defer cancel()
		l.unclaimed.Delete(ctx, unclaimedKey(channel, seq))
	}()
}

// Unclaim implements Claims.
func (l *streamLog) Unclaim(channel string, ps []Pending) {
	if len(ps) == 0 {
		return
	}
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), clusterTimeout)
		defer cancel()
		for _, p := range ps {
			l.mark(ctx, channel, p, true)
		}
		if l.left != nil {
			l.left(channel) // this node's sessions: now that they are written
		}
	}()
}

// Unclaimed implements Claims, from this node's copy of the bucket.
func (l *streamLog) Unclaimed(_ context.Context, channel string, after, through int64, limit int) (ps []Pending, more bool, err error) {
	l.mu.Lock()
	for seq, ev := range l.pending[channel] {
		if seq > after && seq <= through {
			ps = append(ps, Pending{seq, ev})
		}
	}
	l.mu.Unlock()
	slices.SortFunc(ps, func(a, b Pending) int { return cmp.Compare(a.Seq, b.Seq) })
	if len(ps) > limit {
		return ps[:limit], true, nil
	}
	return ps, false, nil
}

// FlushClaims implements Claims: claims are written as they come.
func (l *streamLog) FlushClaims(time.Duration) <-chan error {
	done := make(chan error, 1)
	done <- nil
	return done
}

// ClaimsPending implements Claims.
func (l *streamLog) ClaimsPending() bool { return false }

// markersKept is how long delete markers stay in the cursors and presence
// buckets: a watcher catching up sees them (a variable for tests).
var markersKept = 30 * time.Minute

// changedSince reports whether err is a KV write refused because the key
// has a newer revision than the one it named.
func changedSince(err error) bool {
	var apiErr *jetstream.APIError
	return errors.Is(err, jetstream.ErrKeyExists) || errors.As(err, &apiErr) &&
		(apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence || apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequenceConstant)
}
