package relay

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/hooktap/hooktap/relay/natsnode"
	"github.com/hooktap/hooktap/relay/wire"
)

// natsSignals is the cluster's Signals (log.go). Presence is the KV
// bucket hooktap_presence: one entry per connected agent (channel and
// agent id), naming its node and its filter. Every node
// watches it and keeps a copy, which Reach and Agents read without a
// request. The newest connection of an agent wins: a node that sees a
// later revision of the entry of an agent connected to it than its own
// ends its connection.
//
// An entry names the agent's run (Hello.Instance) too: a hello of another
// run of an agent whose entry names a live node asks that node whether
// its connection answers (copySubject), and is refused if it does, as on
// a single relay (Server.copyRunning). The entry is written only over the
// revision that check saw, so that of two copies connecting at once to
// two nodes the second sees the first.
//
// A node that dies leaves its agents' entries behind: every node writes
// a heartbeat entry (_node.<id>) every heartbeatEvery, and the agents of
// a node whose last heartbeat is nodeDeadAfter older than this node's own
// last one do not count (and are deleted). Both come through the watch, on
// the stream's clock: a node whose watch stalls (it did for 15-20 s while
// the bucket elected a leader) sees every heartbeat stop, its own too, and
// judges nobody dead; judged by its own clock, it used to delete the
// entries of every agent of the cluster but its own.
//
// A node puts its connected agents' entries back when they go while the
// agents stay (reannounce): a node cut off from the others for longer
// than nodeDeadAfter has its agents deleted by them.
type natsSignals struct {
	srv    *Server
	conn   *nats.Conn
	kv     jetstream.KeyValue
	reply  string // this node's answer subject
	nodeID string
	subs   []*nats.Subscription
	live   *nats.Subscription // of liveSubjects
	lost   int                // live deliveries dropped so far (a slow consumer)
	watch  *bucketWatch
	stop   chan struct{}
	// purging, announcing: purgeMarkers, reannounce is running
	purging, announcing atomic.Bool
	// heartbeatEvery, nodeDeadAfter, purgeEvery and markersKept when the
	// node started
	every, deadAfter time.Duration
	purgeBeats       int
	markersKept      time.Duration

	mu         sync.Mutex
	agents     map[string]map[string]presence // the bucket, by channel and agent id
	here       map[string]*joined             // agents connected to this node, by key
	nodes      map[string]time.Time           // the last heartbeat of each node, by the stream's clock
	countedOut map[string]bool                // agents here whose entry another node deleted (note)
	// beatRev: the revision of this node's last heartbeat the watch brought
	beatRev uint64
}

// Heartbeats of the nodes (variables for tests).
var (
	heartbeatEvery = 2 * time.Second
	nodeDeadAfter  = 15 * time.Second // a few heartbeats, and clock skew
)

const nodePrefix = "_node." // channel names start with a letter or digit

// livePending bounds the deliveries a node's live subscription holds for
// it (a variable for tests).
var livePending = 1 << 16

const bucketPresence = "hooktap_presence"

// presence is an agent's entry in the presence bucket.
type presence struct {
	Node     string `json:"node"` // which node run (heartbeats)
	Filter   Filter `json:"filter"`
	Instance string `json:"instance,omitempty"` // the agent's run; "" from older nodes
	rev      uint64
}

// joined is an agent connected to this node (small: one per agent).
type joined struct {
	rev      uint64 // its entry's revision; 0 until written
	replaced func()
}

var _ Signals = (*natsSignals)(nil)

func openSignals(ctx context.Context, node *natsnode.Node, s *Server, reply string) (*natsSignals, error) {
	kv, err := node.JS.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket: bucketPresence, Replicas: node.Replicas, Storage: jetstream.FileStorage,
	})
	if err != nil {
		return nil, fmt.Errorf("create bucket %s: %w", bucketPresence, err)
	}
	kv = withLeaderGets(kv, node.JS)
	g := &natsSignals{srv: s, conn: node.Conn, kv: kv, reply: reply, nodeID: strings.TrimPrefix(reply, answerPrefix),
		stop: make(chan struct{}), every: heartbeatEvery, deadAfter: nodeDeadAfter, purgeBeats: purgeEvery, markersKept: markersKept, agents: map[string]map[string]presence{}, here: map[string]*joined{}, countedOut: map[string]bool{}, nodes: map[string]time.Time{}}
	if err := g.beat(ctx); err != nil { // before its agents' entries
		return nil, fmt.Errorf("write to bucket %s: %w", bucketPresence, err)
	}
	for subj, h := range map[string]nats.MsgHandler{
		liveSubjects: s.onLive, reply: s.onAnswer, answerAll: s.onAnswer, pagePrefix + ">": s.onPage,
		copySubject + g.nodeID: s.onCopyCheck,
	} {
		sub, err := node.Conn.Subscribe(subj, h)
		if err != nil {
			g.Close()
			return nil, fmt.Errorf("subscribe to %s: %w", subj, err)
		}
		// Deliveries are bodies of up to --max-body: room for a burst.
		limit := 1 << 16
		if subj == liveSubjects {
			g.live, limit = sub, livePending
		}
		sub.SetPendingLimits(limit, 1<<30)
		g.subs = append(g.subs, sub)
	}
	// Interest reaches the other servers before deliveries are taken.
	if err := node.Conn.FlushWithContext(ctx); err != nil {
		g.Close()
		return nil, fmt.Errorf("subscribe: %w", err)
	}
	if err := g.watchPresence(ctx); err != nil {
		g.Close()
		return nil, err
	}
	go g.heartbeats()
	return g, nil
}

// beat writes this node's heartbeat.
func (g *natsSignals) beat(ctx context.Context) error {
	if fail := beatFault.Load(); fail != nil {
		if err := (*fail)(); err != nil {
			return err
		}
	}
	_, err := g.kv.Put(ctx, nodePrefix+g.nodeID, nil)
	return err
}

// heartbeats beats, and deletes the entries of nodes that stopped.
func (g *natsSignals) heartbeats() {
	t := time.NewTicker(g.every)
	defer t.Stop()
	for beats := 1; ; beats++ {
		select {
		case <-g.stop:
			return
		case <-t.C:
		}
		if beats%g.purgeBeats == 0 {
			go g.purgeMarkers()
		}
		g.checkDropped()
		ctx, cancel := context.WithTimeout(context.Background(), g.every)
		start := time.Now()
		err := g.beat(ctx)
		if err != nil {
			g.srv.log.Debug("cluster heartbeat", "err", err)
		}
		g.srv.writes.wrote(start, err) // whether the cluster takes writes (quorum.go)
		go g.reannounce()
		for k, rev := range g.stale() {
			if rev == 0 {
				g.kv.Delete(ctx, k)
			} else {
				g.kv.Delete(ctx, k, jetstream.LastRevision(rev))
			}
		}
		cancel()
	}
}

// purgeEvery is how many heartbeats apart a node purges the bucket's old
// delete markers (every 5 min at the default beat; a variable for tests).
var purgeEvery = 150

// purgeMarkers drops the delete markers that agents leaving (and nodes
// stopping) left in the bucket more than markersKept ago: one per agent id
// ever connected, which would otherwise add up for ever. Every node does
// it; the purges are the same.
func (g *natsSignals) purgeMarkers() {
	if !g.purging.CompareAndSwap(false, true) {
		return // the last one is still going
	}
	defer g.purging.Store(false)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	// Not g.kv.PurgeDeletes, which can wait for ever (kvread.go).
	if err := purgeDeletes(ctx, g.srv.cfg.Cluster.JS, g.kv, g.markersKept); err != nil {
		g.srv.log.Debug("purge presence markers", "err", err)
	}
}

// checkDropped has every session catch up from the stream when the live
// subscription dropped deliveries (it fell behind): a dropped one is
// otherwise noticed only when the next one of its channel comes.
func (g *natsSignals) checkDropped() {
	n, err := g.live.Dropped()
	if err != nil || n == g.lost {
		return
	}
	g.lost = n
	g.srv.log.Warn("this node fell behind the cluster's deliveries; its agents catch up from the stream", "dropped", n)
	g.srv.mu.Lock()
	var all []*session
	for _, ch := range g.srv.channels {
		for ss := range ch.sessions {
			all = append(all, ss)
		}
	}
	g.srv.mu.Unlock()
	for _, ss := range all {
		ss.kick.Store(true)
		ss.wake()
	}
}

// stale lists the entries of dead nodes, and their revisions.
func (g *natsSignals) stale() map[string]uint64 {
	g.mu.Lock()
	defer g.mu.Unlock()
	out := map[string]uint64{}
	for node := range g.nodes {
		if !g.alive(node) {
			out[nodePrefix+node] = 0 // its heartbeat too: node runs do not come back
		}
	}
	for channel, ps := range g.agents {
		for id, p := range ps {
			if !g.alive(p.Node) {
				out[agentKey(channel, id)] = p.rev
			}
		}
	}
	return out
}

// alive reports whether node has beaten lately: less than deadAfter
// before this node's own last heartbeat, as the watch brought both.
// Callers hold mu.
func (g *natsSignals) alive(node string) bool {
	if node == g.nodeID {
		return true
	}
	last, ok := g.nodes[node]
	return ok && g.nodes[g.nodeID].Sub(last) < g.deadAfter
}

// reannounce writes again the entries of this node's agents that went
// from the bucket while they stayed connected (another node judged this
// one dead), once the watch has brought this node's last heartbeat: a
// deletion the watch has not brought yet is not known.
func (g *natsSignals) reannounce() {
	if !g.announcing.CompareAndSwap(false, true) {
		return // the last one is still going
	}
	defer g.announcing.Store(false)
	g.mu.Lock()
	gone := map[string]*joined{}
	for k, j := range g.here {
		if j.rev == 0 { // its Join could not write it
			gone[k] = j
			continue
		}
		if j.rev > g.beatRev {
			continue // written after what the watch has shown
		}
		channel, agentID, _ := splitAgentKey(k)
		if p, ok := g.agents[channel][agentID]; !ok || p.rev < j.rev || g.countedOut[k] {
			gone[k] = j
		}
	}
	g.mu.Unlock()
	again := 0
	for k, j := range gone {
		channel, agentID, _ := splitAgentKey(k)
		ss := g.srv.sessionOf(channel, agentID)
		if ss == nil {
			continue // it left
		}
		p := presence{Node: g.nodeID, Filter: ss.filter, Instance: ss.instance}
		v, _ := json.Marshal(p)
		// A heartbeat's time each: one stuck in an election must not hold
		// the next heartbeat's try back.
		ctx, cancel := context.WithTimeout(context.Background(), g.every)
		rev, err := g.claim(ctx, channel, agentID, ss.instance, v)
		cancel()
		if errors.Is(err, errCopyRunning) { // another run got in meanwhile, elsewhere
			g.mu.Lock()
			if g.drop(k, j) {
				go j.replaced()
			}
			g.mu.Unlock()
			continue
		}
		if err != nil {
			g.srv.log.Debug("agent not announced again", "channel", channel, "err", err)
			continue
		}
		p.rev = rev
		g.mu.Lock()
		still := g.here[k] == j
		if still {
			g.announced(j, channel, agentID, p)
		}
		g.mu.Unlock()
		if !still { // it left meanwhile: its leave deleted the old revision
			ctx, cancel := context.WithTimeout(context.Background(), clusterTimeout)
			g.kv.Delete(ctx, k, jetstream.LastRevision(rev))
			cancel()
			continue
		}
		again++
	}
	if again > 0 {
		g.srv.log.Info("cluster: agents of this node announced to the other nodes (an entry another node deleted, or one not written at connect)", "agents", again)
	}
}

// watchPresence keeps agents in step with the bucket; it returns once
// agents holds what the bucket held when it was called.
func (g *natsSignals) watchPresence(ctx context.Context) error {
	w, err := watchBucket(ctx, g.srv.log, g.kv, bucketPresence, g.note, g.resync)
	g.watch = w
	return err
}

// resync drops the nodes and agents that left the bucket while the watch
// stalled (seen: the keys in it now).
func (g *natsSignals) resync(seen map[string]bool, before uint64) {
	g.mu.Lock()
	defer g.mu.Unlock()
	for node := range g.nodes {
		if !seen[nodePrefix+node] {
			delete(g.nodes, node)
		}
	}
	for channel, ps := range g.agents {
		for id, p := range ps {
			k := agentKey(channel, id)
			if p.rev > before || seen[k] {
				continue
			}
			if g.here[k] != nil {
				g.countedOut[k] = true // as in note
				continue
			}
			delete(ps, id)
		}
		if len(ps) == 0 {
			delete(g.agents, channel)
		}
	}
}

// note takes a change of the presence bucket.
func (g *natsSignals) note(e jetstream.KeyValueEntry) {
	k := e.Key()
	if node, ok := strings.CutPrefix(k, nodePrefix); ok {
		g.mu.Lock()
		if e.Operation() == jetstream.KeyValuePut {
			g.nodes[node] = e.Created()
			if node == g.nodeID {
				g.beatRev = max(g.beatRev, e.Revision())
			}
		} else {
			delete(g.nodes, node)
		}
		g.mu.Unlock()
		return
	}
	channel, agentID, ok := splitAgentKey(k)
	if !ok {
		return
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if e.Operation() != jetstream.KeyValuePut {
		if p, ok := g.agents[channel][agentID]; ok && p.rev < e.Revision() {
			if j := g.here[k]; j != nil && j.rev != 0 {
				// Another node counted this one's agent out: it is still
				// connected here, and counted here until reannounce puts
				// its entry back.
				g.countedOut[k] = true
				return
			}
			delete(g.agents[channel], agentID)
			if len(g.agents[channel]) == 0 {
				delete(g.agents, channel)
			}
		}
		return
	}
	var p presence
	if json.Unmarshal(e.Value(), &p) != nil {
		return
	}
	p.rev = e.Revision()
	if old, ok := g.agents[channel][agentID]; ok && old.rev >= p.rev {
		return // a stalled watch's replacement replays it
	}
	if _, ok := g.nodes[p.Node]; ok {
		p.Node = g.intern(p.Node)
	}
	if g.agents[channel] == nil {
		g.agents[channel] = map[string]presence{}
	}
	g.agents[channel][agentID] = p
	g.checkReplaced(k, p)
}

// intern returns the map's copy of a node id, so that the entries of a
// node share one string. Callers hold mu.
func (g *natsSignals) intern(node string) string {
	for k := range g.nodes {
		if k == node {
			return k
		}
	}
	return node
}

// checkReplaced ends the connection of this node's agent at key k if p is
// a newer connection of it. Callers hold mu.
func (g *natsSignals) checkReplaced(k string, p presence) {
	j := g.here[k]
	// Its own entry, or older; or this node's (a reconnection here ended
	// the old session already, and reannounce writes entries anew).
	if j == nil || j.rev == 0 || p.rev <= j.rev || p.Node == g.nodeID {
		return
	}
	delete(g.here, k)
	delete(g.countedOut, k) // p, the newer one, is counted
	go j.replaced()
}

// Reach implements Signals.
func (g *natsSignals) Reach(channel string, ev Event) (connected, matched int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	for _, p := range g.agents[channel] {
		if !g.alive(p.Node) {
			continue
		}
		connected++
		if p.Filter.Match(ev) {
			matched++
		}
	}
	return connected, matched
}

// Agents implements Signals.
func (g *natsSignals) Agents(channel string) map[string]Filter {
	g.mu.Lock()
	defer g.mu.Unlock()
	out := make(map[string]Filter, len(g.agents[channel]))
	for id, p := range g.agents[channel] {
		if g.alive(p.Node) {
			out[id] = p.Filter
		}
	}
	return out
}

// Join implements Signals.
func (g *natsSignals) Join(channel, agentID, instance string, f Filter, replaced func()) (leave func(), taken bool) {
	k := agentKey(channel, agentID)
	j := &joined{replaced: replaced}
	v, _ := json.Marshal(presence{Node: g.nodeID, Filter: f, Instance: instance})
	ctx, cancel := context.WithTimeout(context.Background(), clusterTimeout)
	defer cancel()
	rev, err := g.claim(ctx, channel, agentID, instance, v)
	if errors.Is(err, errCopyRunning) {
		return nil, true
	}
	g.mu.Lock()
	g.here[k] = j
	if err != nil {
		// Connected all the same (its cursor is bound): reannounce writes
		// its entry at the next heartbeat, and until then the other nodes
		// do not count it.
		g.srv.log.Warn("agent not announced to the cluster yet; retrying", "channel", channel, "err", err)
	} else {
		g.announced(j, channel, agentID, presence{Node: g.nodeID, Filter: f, Instance: instance, rev: rev})
	}
	g.mu.Unlock()
	return func() {
		g.mu.Lock()
		g.drop(k, j)
		rev := j.rev // reannounce may have written it again
		g.mu.Unlock()
		if rev == 0 {
			return // never written
		}
		ctx, cancel := context.WithTimeout(context.Background(), clusterTimeout)
		defer cancel()
		// Only its own entry: a newer connection's stays.
		g.kv.Delete(ctx, k, jetstream.LastRevision(rev))
	}, false
}

// drop forgets j, the agent at key k connected here, if it still is; one
// counted here only (countedOut) is counted out now. Callers hold mu.
func (g *natsSignals) drop(k string, j *joined) bool {
	if g.here[k] != j {
		return false
	}
	delete(g.here, k)
	if g.countedOut[k] {
		delete(g.countedOut, k)
		if channel, agentID, ok := splitAgentKey(k); ok {
			delete(g.agents[channel], agentID)
			if len(g.agents[channel]) == 0 {
				delete(g.agents, channel)
			}
		}
	}
	return true
}

// announced records that j's entry p is written. Callers hold mu.
func (g *natsSignals) announced(j *joined, channel, agentID string, p presence) {
	j.rev = p.rev
	delete(g.countedOut, agentKey(channel, agentID))
	if seen, ok := g.agents[channel][agentID]; ok && seen.rev > p.rev {
		g.checkReplaced(agentKey(channel, agentID), seen) // a newer one was seen before the write returned
		return
	}
	// Counted here at once, not when the watch brings it back: the agent
	// is told it is connected next, and a POST may follow.
	if g.agents[channel] == nil {
		g.agents[channel] = map[string]presence{}
	}
	g.agents[channel][agentID] = p
}

// splitAgentKey is agentKey's inverse.
func splitAgentKey(k string) (channel, agentID string, ok bool) {
	i := strings.LastIndexByte(k, '.')
	if i < 0 {
		return "", "", false
	}
	id, err := hex.DecodeString(k[i+1:])
	if err != nil {
		return "", "", false
	}
	return channelOfKey(k[:i]), string(id), true
}

// errCopyRunning: another run of the agent is connected to another node.
var errCopyRunning = errors.New("a copy of the agent runs on another node")

// claim writes v, the presence entry of agentID's run instance, unless an
// entry of another run names a live node where that run answers
// (errCopyRunning). It writes over the revision it checked, and checks
// again whatever was written meanwhile. It returns the entry's revision.
func (g *natsSignals) claim(ctx context.Context, channel, agentID, instance string, v []byte) (uint64, error) {
	if fail := claimFault.Load(); fail != nil {
		if err := (*fail)(); err != nil {
			return 0, err
		}
	}
	k := agentKey(channel, agentID)
	g.mu.Lock()
	p, ok := g.agents[channel][agentID] // the watch's copy: right unless it just changed
	g.mu.Unlock()
	for i := range 10 {
		if ok && g.copyElsewhere(p, instance) && g.askOwner(channel, agentID, instance, p.Node) {
			return 0, errCopyRunning
		}
		var rev uint64
		var err error
		if ok {
			rev, err = g.kv.Update(ctx, k, v, p.rev)
		} else {
			rev, err = g.kv.Create(ctx, k, v)
		}
		if err == nil {
			return rev, nil
		}
		if !wrongRevision(err) {
			return 0, err
		}
		// A replica may answer the read before it has the write that was
		// in the way (or that write is still being replicated): a few
		// tries, a little later each time.
		time.Sleep(time.Duration(i) * 10 * time.Millisecond)
		if p, ok, err = g.read(ctx, k); err != nil {
			return 0, err
		}
	}
	return 0, errors.New("the agent's presence entry keeps changing")
}

// beatFault, set by tests, fails heartbeats as a bucket without a leader
// does.
var beatFault atomic.Pointer[func() error]

// claimFault, set by tests, fails claims as a bucket without a leader does.
var claimFault atomic.Pointer[func() error]

// wrongRevision reports whether err says that the entry was not at the
// revision a write expected. Create over a deleted entry passes the
// server's error on as is, without ErrKeyExists (nats.go v1.55.0).
func wrongRevision(err error) bool {
	var ae *jetstream.APIError
	return errors.As(err, &ae) && (ae.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence ||
		ae.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequenceConstant)
}

// read reads the presence entry at k from the bucket.
func (g *natsSignals) read(ctx context.Context, k string) (p presence, ok bool, err error) {
	e, err := g.kv.Get(ctx, k)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return p, false, nil
	}
	if err != nil {
		return p, false, err
	}
	if json.Unmarshal(e.Value(), &p) != nil {
		p = presence{} // unreadable: an unknown run, newest wins
	}
	p.rev = e.Revision()
	return p, true, nil
}

// copyElsewhere reports whether p is the entry of another run than
// instance on another live node. An entry without a run (an older node's)
// or of this node (Server.copyRunning checked it) is not.
func (g *natsSignals) copyElsewhere(p presence, instance string) bool {
	if p.Instance == "" || p.Instance == instance || p.Node == g.nodeID {
		return false
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.alive(p.Node)
}

// copySubject + a node run's id: asks that node whether its connection of
// an agent, of another run than the one asking, answers a ping.
const copySubject = "hooktap.copy."

// copyQuestion is what copySubject carries.
type copyQuestion struct {
	Channel  string `json:"channel"`
	Agent    string `json:"agent"`
	Instance string `json:"instance"` // the run asking
}

const copyAnswers = "answers"

// askOwner asks node whether its connection of agentID answers. A node
// that does not say so in time (dead, gone, or an older node without
// copySubject) does not hold a running copy: the newest connection wins.
func (g *natsSignals) askOwner(channel, agentID, instance, node string) bool {
	q, _ := json.Marshal(copyQuestion{channel, agentID, instance})
	m, err := g.conn.Request(copySubject+node, q, copyCheck+time.Second)
	if err != nil {
		g.srv.log.Debug("no answer about a running copy", "channel", channel, "agent", agentID, "err", err)
		return false
	}
	return string(m.Data) == copyAnswers
}

// Answer implements Signals.
func (g *natsSignals) Answer(reply string, a *wire.Ack) {
	if reply == noAnswer {
		return
	}
	if reply == g.reply || reply == "" {
		g.srv.resolve(a)
		if reply != "" {
			return
		}
		reply = answerAll
	}
	b, err := wire.Encode(a)
	if err != nil {
		return
	}
	if err := g.conn.Publish(reply, b); err != nil {
		g.srv.log.Debug("answer not passed on", "err", err)
	}
}

// headerRelease marks a message on an answer subject that carries the id
// of a delivery no answer is coming for.
const headerRelease = "Hooktap-Release"

// Release implements Signals.
func (g *natsSignals) Release(reply, id string) {
	if reply == noAnswer {
		return
	}
	if reply == g.reply || reply == "" {
		g.srv.release(id)
		if reply != "" {
			return
		}
		reply = answerAll
	}
	m := &nats.Msg{Subject: reply, Header: nats.Header{headerRelease: {"1"}}, Data: []byte(id)}
	if err := g.conn.PublishMsg(m); err != nil {
		g.srv.log.Debug("release not passed on", "err", err)
	}
}

// Close implements Signals.
func (g *natsSignals) Close() error {
	close(g.stop)
	for _, sub := range g.subs {
		sub.Unsubscribe()
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	g.kv.Delete(ctx, nodePrefix+g.nodeID) // gone, not dead
	if g.watch != nil {
		g.watch.Stop()
	}
	return nil
}
