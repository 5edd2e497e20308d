package relay

import (
	"errors"
	"fmt"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go/jetstream"
)

// fastHeartbeats makes nodes beat every 100 ms and count a node dead after
// a second of silence, for one test.
func fastHeartbeats(t *testing.T) {
	every, dead := heartbeatEvery, nodeDeadAfter
	heartbeatEvery, nodeDeadAfter = 100*time.Millisecond, time.Second
	t.Cleanup(func() { heartbeatEvery, nodeDeadAfter = every, dead })
}

func signalsOf(c *testCluster, i int) *natsSignals {
	return c.node(i).srv.signals.(*natsSignals)
}

// lastBeat is the time of node's last heartbeat as g's watch brought it.
func (g *natsSignals) lastBeat(node string) time.Time {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.nodes[node]
}

// A node whose presence watch stalls (it did for 15-20 s while the bucket
// elected a leader after a node died) judges no node dead: it used to see
// every other node's heartbeats stop, count their agents out and delete
// their entries, and then every node answered "no agent is connected".
func TestClusterStalledWatchJudgesNobodyDead(t *testing.T) {
	fastHeartbeats(t)
	every := watchCheckEvery
	watchCheckEvery = time.Hour // the stall lasts
	t.Cleanup(func() { watchCheckEvery = every })
	c := startCluster(t, Config{})
	a := dialAgent(t, c.node(1).ts)
	a.hello("s", "stays")
	c.waitAgents("s", 1)

	stalled, other := signalsOf(c, 0), signalsOf(c, 2)
	stalled.watch.mu.Lock()
	stalled.watch.w.Stop()
	stalled.watch.mu.Unlock()
	// Node 0 goes on beating; node 2 sees it, node 0 no longer does.
	waitFor(t, "node 0's heartbeats three deadlines past its own view of them", func() bool {
		return other.lastBeat(stalled.nodeID).Sub(stalled.lastBeat(stalled.nodeID)) > 3*nodeDeadAfter
	})
	// Its heartbeat loop deletes before its next beat: two more beats.
	beat := other.lastBeat(stalled.nodeID)
	waitFor(t, "two more heartbeats of node 0", func() bool {
		return other.lastBeat(stalled.nodeID).Sub(beat) >= 2*heartbeatEvery
	})
	if _, err := other.kv.Get(t.Context(), agentKey("s", "stays")); err != nil {
		t.Fatalf("the agent's presence entry: %v", err)
	}
	for i := range 3 {
		if got, _ := signalsOf(c, i).Reach("s", Event{}); got != 1 {
			t.Errorf("node %d counts %d agents, want 1", i, got)
		}
	}
}

// An agent whose entry another node deleted (it judged this node dead:
// cut off for longer than nodeDeadAfter) while the agent stayed connected
// is announced again; once it leaves, its entry goes for good.
func TestClusterAgentAnnouncedAgain(t *testing.T) {
	fastHeartbeats(t)
	c := startCluster(t, Config{})
	a := dialAgent(t, c.node(1).ts)
	a.hello("r", "back")
	c.waitAgents("r", 1)
	other := signalsOf(c, 2)
	k := agentKey("r", "back")
	e, err := other.kv.Get(t.Context(), k)
	if err != nil {
		t.Fatal(err)
	}
	if err := other.kv.Delete(t.Context(), k); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the entry written again", func() bool {
		again, err := other.kv.Get(t.Context(), k)
		return err == nil && again.Revision() > e.Revision()+1
	})
	c.waitAgents("r", 1)
	a.ws.Close()
	c.waitAgents("r", 0)
	waitFor(t, "the entry of the agent that left to go", func() bool {
		_, err := other.kv.Get(t.Context(), k)
		return errors.Is(err, jetstream.ErrKeyNotFound)
	})
}

// watchHosts says which NATS server holds each relay node's presence
// watch (an ordered consumer of the bucket, which NATS places on one of
// the stream's servers): by the consumer's deliver subject, among the
// subscriptions of node i's connection to server i.
func watchHosts(t *testing.T, c *testCluster) map[int]int {
	t.Helper()
	st, err := c.node(0).srv.cfg.Cluster.JS.Stream(t.Context(), "KV_"+bucketPresence)
	if err != nil {
		t.Fatal(err)
	}
	hosts := map[int]int{}
	infos := st.ListConsumers(t.Context())
	for ci := range infos.Info() {
		if ci.Cluster == nil {
			continue
		}
		for i := range 3 {
			cz, err := c.nats.Server(i).Connz(&server.ConnzOptions{Subscriptions: true})
			if err != nil {
				t.Fatal(err)
			}
			for _, conn := range cz.Conns {
				if conn.Name == fmt.Sprintf("hooktap relay relay%d", i) && slices.Contains(conn.Subs, ci.Config.DeliverSubject) {
					hosts[i] = c.nats.Index(ci.Cluster.Leader)
				}
			}
		}
	}
	if err := infos.Err(); err != nil {
		t.Fatal(err)
	}
	return hosts
}

// The NATS server that holds one node's presence watch dies with its
// node while POSTs come: every node left keeps counting the agent
// connected to the third (they answered 202 "no agent is connected" for
// good from ~15 s on: the watch stalled while the bucket elected a
// leader, the node took that for the other nodes' silence and deleted
// their agents' entries).
func TestClusterPresenceWatchHostKilled(t *testing.T) {
	var c *testCluster
	watcher, kill := -1, -1
	for try := 0; watcher < 0; try++ {
		if try == 5 {
			t.Fatal("in five clusters every node's watch was on its own server")
		}
		c = startCluster(t, Config{ResponseTimeout: 3 * time.Second})
		hosts := watchHosts(t, c)
		t.Logf("presence watches: node -> server %v", hosts)
		for w, h := range hosts {
			if h != w {
				watcher, kill = w, h
			}
		}
	}
	at := 3 - watcher - kill
	runAgent(t, c.node(at).ts.URL, "p", filepath.Join(t.TempDir(), "agent.db"), newTestApp(t))
	c.waitAgents("p", 1)
	stop := make(chan struct{})
	posting := make(chan struct{})
	go func() { // as a load balancer spreads them
		defer close(posting)
		for {
			for i := range 3 {
				select {
				case <-stop:
					return
				default:
				}
				if nd := c.node(i); nd != nil {
					if resp, err := http.Post(nd.ts.URL+"/h/p", "application/json", strings.NewReader(`{}`)); err == nil {
						resp.Body.Close()
					}
				}
			}
		}
	}()
	defer func() { close(stop); <-posting }()
	c.nats.Kill(kill)
	c.stopNode(kill)
	// Past nodeDeadAfter, and the watches' recovery (15-20 s measured).
	for start := time.Now(); time.Since(start) < 2*nodeDeadAfter; time.Sleep(500 * time.Millisecond) {
		for _, i := range []int{watcher, at} {
			if got, _ := c.node(i).srv.signals.Reach("p", Event{}); got != 1 {
				t.Fatalf("+%.1fs: node %d counts %d agents, want 1", time.Since(start).Seconds(), i, got)
			}
		}
	}
}

// An agent told it is connected is counted by its node at once: a POST
// right after `hooktap listen` says ready used to get 202 "no agent is
// connected" until the node's watch brought the agent's own entry back.
func TestClusterAgentCountedOnceWelcomed(t *testing.T) {
	c := startCluster(t, Config{})
	for i := range 20 {
		a := dialAgent(t, c.node(0).ts)
		a.hello("w", fmt.Sprintf("agent%d", i))
		if got, _ := c.node(0).srv.signals.Reach("w", Event{}); got != i+1 {
			t.Fatalf("agent %d welcomed: its node counts %d agents, want %d", i, got, i+1)
		}
	}
}

// An agent whose entry could not be written when it connected (the
// bucket had no leader: "no response from stream") stays connected and is
// announced at a later heartbeat: every node used to answer "no agent
// subscribes" for as long as it stayed connected.
func TestClusterAgentAnnouncedAfterFailedJoin(t *testing.T) {
	fastHeartbeats(t)
	c := startCluster(t, Config{})
	failing := atomic.Bool{}
	failing.Store(true)
	fail := func() error {
		if failing.Load() {
			return errors.New("nats: no response from stream")
		}
		return nil
	}
	claimFault.Store(&fail)
	t.Cleanup(func() { claimFault.Store(nil) })
	a := dialAgent(t, c.node(1).ts)
	a.hello("f", "late")
	if got, _ := signalsOf(c, 1).Reach("f", Event{}); got != 0 {
		t.Fatalf("counted with its entry unwritten: %d", got)
	}
	failing.Store(false)
	c.waitAgents("f", 1)
	a.ws.Close()
	c.waitAgents("f", 0)
}

// A delivery another node kept for the channel's next agent (it counted
// none: the agent's node was frozen, say), acked by the agent before its
// own node's watch brought the kept entry, is claimed: the entry goes
// when it arrives, and no later agent gets the delivery again (the same
// deliveries reached the app a second time, through another agent,
// minutes later).
func TestClusterKeptEntryAfterAckIsClaimed(t *testing.T) {
	every := watchCheckEvery
	watchCheckEvery = time.Hour // node 1's unclaimed watch lags until restarted below
	t.Cleanup(func() { watchCheckEvery = every })
	c := startCluster(t, Config{ResponseTimeout: time.Second})
	a := dialAgent(t, c.node(1).ts)
	a.hello("d", "first")
	c.waitAgents("d", 1)

	lg := c.node(1).srv.store.(*streamLog)
	lg.watch.mu.Lock()
	lg.watch.w.Stop()
	lg.watch.mu.Unlock()
	// Node 0 counts no agent (as when node 1 was silent too long).
	if err := signalsOf(c, 0).kv.Delete(t.Context(), agentKey("d", "first")); err != nil {
		t.Fatal(err)
	}
	countedOutBy(t, c, "d", 0)
	status, answer, _ := postBody(t, c.node(0).ts.URL+"/h/d", `{"n":1}`)
	if status != http.StatusAccepted || !strings.Contains(answer, "no agent") {
		t.Fatalf("POST to node 0: %d %s", status, answer)
	}
	d := a.readDelivery() // live, through node 1
	key := unclaimedKey("d", d.Seq)
	if _, err := lg.unclaimed.Get(t.Context(), key); err != nil {
		t.Fatalf("node 0's kept entry: %v", err)
	}
	a.ack(d)
	waitFor(t, "the ack on node 1", func() bool {
		seq, _ := lg.cursorOf(t.Context(), "d", "first")
		return seq >= d.Seq
	})
	if err := lg.watch.start(t.Context(), true); err != nil { // it catches up
		t.Fatal(err)
	}
	waitFor(t, "the kept entry of the acked delivery to go", func() bool {
		_, err := lg.unclaimed.Get(t.Context(), key)
		return errors.Is(err, jetstream.ErrKeyNotFound)
	})
	ps, _, err := lg.Unclaimed(t.Context(), "d", 0, d.Seq, 10)
	if err != nil || len(ps) != 0 {
		t.Fatalf("node 1 still offers %v (%v)", ps, err)
	}
}

// A delivery a node kept for no agent (its count was behind: the agent
// was connected to another node) and then withdrew, as its unclaimed
// entry could not be written, had still reached the agent through the
// stream: the sender gets the agent's answer, not 503 "retry" (whose retry
// the app would see twice).
func TestClusterWithdrawnButAnsweredGetsTheAnswer(t *testing.T) {
	c := startCluster(t, Config{ResponseTimeout: 5 * time.Second})
	a := dialAgent(t, c.node(1).ts)
	a.hello("u", "counted-out")
	c.waitAgents("u", 1)
	fail := func() error { return errors.New("nats: no response from stream") }
	markFault.Store(&fail)
	t.Cleanup(func() { markFault.Store(nil) })
	if err := signalsOf(c, 0).kv.Delete(t.Context(), agentKey("u", "counted-out")); err != nil {
		t.Fatal(err)
	}
	countedOutBy(t, c, "u", 0)
	type answer struct {
		status int
		body   string
	}
	got := make(chan answer, 1)
	go func() {
		status, body, _ := postBody(t, c.node(0).ts.URL+"/h/u", `{"n":1}`)
		got <- answer{status, body}
	}()
	d := a.readDelivery()
	a.ack(d)
	if ans := <-got; ans.status != http.StatusOK {
		t.Fatalf("sender got %d %s, want the agent's 200", ans.status, ans.body)
	}
}

// waitCaughtUp waits until the watch has brought what the bucket holds now.
func (b *bucketWatch) waitCaughtUp(t *testing.T) {
	t.Helper()
	last, err := b.lastRevision(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the watch to catch up with "+b.bucket, func() bool {
		b.mu.Lock()
		defer b.mu.Unlock()
		return b.hi >= last
	})
}

// countedOutBy waits until nodes count no agent on channel.
func countedOutBy(t *testing.T, c *testCluster, channel string, nodes ...int) {
	t.Helper()
	for _, i := range nodes {
		waitFor(t, fmt.Sprintf("node %d to count no agent of %s", i, channel), func() bool {
			n, _ := signalsOf(c, i).Reach(channel, Event{})
			return n == 0
		})
	}
}

// A node whose agent another node counted out (it deleted the entry: this
// node was silent too long) goes on counting it while the agent stays
// connected here: it answered "no agent is connected" for ~11 s after
// SIGCONT while its agent's socket was open (outside tester, 6 of 10
// SIGSTOP cycles).
func TestClusterNodeKeepsCountingItsAgent(t *testing.T) {
	c := startCluster(t, Config{})
	a := dialAgent(t, c.node(1).ts)
	a.hello("k", "kept")
	c.waitAgents("k", 1)
	fail := func() error { return errors.New("nats: no response from stream") }
	claimFault.Store(&fail) // its entry cannot be written back yet
	t.Cleanup(func() { claimFault.Store(nil) })
	if err := signalsOf(c, 2).kv.Delete(t.Context(), agentKey("k", "kept")); err != nil {
		t.Fatal(err)
	}
	own := signalsOf(c, 1)
	own.watch.waitCaughtUp(t)
	if n, _ := own.Reach("k", Event{}); n != 1 {
		t.Fatalf("node 1 counts %d of its own connected agents, want 1", n)
	}
	countedOutBy(t, c, "k", 0, 2)
	// One that leaves while counted here only is counted out here too.
	b := dialAgent(t, c.node(1).ts)
	claimFault.Store(nil)
	b.hello("k2", "leaves")
	c.waitAgents("k2", 1)
	claimFault.Store(&fail)
	if err := signalsOf(c, 2).kv.Delete(t.Context(), agentKey("k2", "leaves")); err != nil {
		t.Fatal(err)
	}
	countedOutBy(t, c, "k2", 0, 2)
	own.watch.waitCaughtUp(t)
	b.ws.Close()
	waitFor(t, "node 1 to count out its agent that left", func() bool {
		n, _ := own.Reach("k2", Event{})
		return n == 0
	})
	claimFault.Store(nil)
	c.waitAgents("k", 1) // written back
	a.ws.Close()
	c.waitAgents("k", 0)
}
