package relay

import (
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/hooktap/hooktap/inspector/agent"
	"github.com/hooktap/hooktap/inspector/store"
	"github.com/hooktap/hooktap/relay/wire"
)

// Two running copies of one agent store (same id and key, another
// Instance in the hello) on two nodes of a cluster: the second is refused
// as on a single relay, not let in to take the first one's place (which
// took the second's back a second later, and forwarded deliveries twice).

// storeCopy makes an agent store at orig, with its id and key, and copies
// its files to copied, as a user copying a project directory would.
func storeCopy(t *testing.T, orig, copied string) {
	t.Helper()
	st, err := store.Open(t.Context(), orig)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := st.AgentID(t.Context()); err != nil {
		t.Fatal(err)
	}
	st.Close()
	files, _ := filepath.Glob(orig + "*")
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(copied+strings.TrimPrefix(f, orig), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

// sessionOf returns the session of channel on s (nil: none).
func sessionOf(s *Server, channel string) *session {
	s.mu.Lock()
	defer s.mu.Unlock()
	if ch := s.channels[channel]; ch != nil {
		for ss := range ch.sessions {
			return ss
		}
	}
	return nil
}

func (a *testApp) total() (n int) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, k := range a.got {
		n += k
	}
	return n
}

// The real agent on node A, and a copy of its store started on node B:
// the copy stops with the agent_taken refusal, the original keeps its one
// connection, and 20 POSTs make 20 forwards, by the original, each once
// (an outside test saw 25 forwards of 20 POSTs to the two apps).
func TestClusterCopyOfStoreRefused(t *testing.T) {
	c := startCluster(t, Config{})
	appA, appB := newTestApp(t), newTestApp(t)
	dir := t.TempDir()
	orig, copied := filepath.Join(dir, "a.db"), filepath.Join(dir, "b.db")
	storeCopy(t, orig, copied)
	runAgent(t, c.node(0).ts.URL, "twin", orig, appA)
	c.waitAgents("twin", 1)
	first := sessionOf(c.node(0).srv, "twin")
	b := runAgent(t, c.node(1).ts.URL, "twin", copied, appB)
	select {
	case <-b.exited:
		if !errors.Is(b.err, agent.ErrRefused) || !strings.Contains(b.err.Error(), "another running agent with a copy of this store") {
			t.Fatalf("the copy on node B ended with %v; want the agent_taken refusal", b.err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("the copy of the store on node B was not refused in 15 s")
	}
	if got := sessionOf(c.node(0).srv, "twin"); got != first {
		t.Fatal("the original lost its connection on node A")
	}
	const n = 20
	var bodies []string
	for i := range n {
		body := fmt.Sprintf(`{"action":"payable.created","n":%d}`, i)
		bodies = append(bodies, body)
		if status, answer, _ := postBody(t, c.node(i%3).ts.URL+"/h/twin", body); status != http.StatusCreated {
			t.Fatalf("POST %d to node %d: %d %s", i, i%3, status, answer)
		}
	}
	for _, body := range bodies {
		if appA.times(body) != 1 {
			t.Errorf("%s reached the original's app %d times", body, appA.times(body))
		}
	}
	if fa, fb := appA.total(), appB.total(); fa != n || fb != 0 {
		t.Fatalf("%d POSTs made %d forwards by the original and %d by the copy; want %d and 0", n, fa, fb, n)
	}
	if got := sessionOf(c.node(0).srv, "twin"); got != first {
		t.Fatal("the original was replaced on node A while deliveries came")
	}
}

// reading is a fake agent whose frames are read on a goroutine (which
// answers the relay's pings, as a running agent does).
type reading struct {
	msgs   chan wire.Message
	closed chan error // the read error that ended it
}

func (a *fakeAgent) reading() *reading {
	r := &reading{msgs: make(chan wire.Message, 64), closed: make(chan error, 1)}
	go func() {
		for {
			a.ws.SetReadDeadline(time.Now().Add(time.Minute))
			_, b, err := a.ws.ReadMessage()
			if err != nil {
				r.closed <- err
				close(r.msgs)
				return
			}
			if m, err := wire.Decode(b); err == nil {
				r.msgs <- m
			}
		}
	}()
	return r
}

// next returns the next message (nil: the connection ended).
func (r *reading) next(t *testing.T) wire.Message {
	t.Helper()
	select {
	case m := <-r.msgs:
		return m
	case <-time.After(15 * time.Second):
		t.Fatal("no message in 15 s")
		return nil
	}
}

// wantClosed waits until the relay closed the connection with reason.
func (r *reading) wantClosed(t *testing.T, reason string) {
	t.Helper()
	select {
	case err := <-r.closed:
		var ce *websocket.CloseError
		if !errors.As(err, &ce) || ce.Text != reason {
			t.Fatalf("connection ended with %v; want closed as %s", err, reason)
		}
	case <-time.After(15 * time.Second):
		t.Fatalf("connection not closed as %s in 15 s", reason)
	}
}

// helloRun connects as agent id of channel, run instance, and reads on.
func helloRun(t *testing.T, c *testCluster, node int, channel, id, instance string) (*fakeAgent, *reading) {
	t.Helper()
	a := dialAgent(t, c.node(node).ts)
	r := a.reading()
	a.send(&wire.Hello{Channel: channel, AgentID: id, AgentKey: testKey(id), Instance: instance})
	return a, r
}

// A reconnect of the same run (same instance) on another node takes the
// place of its older connection at once, although that one still answers;
// so does a run after an agent that named no instance (an older agent).
func TestClusterSameRunTakesOver(t *testing.T) {
	for _, tc := range []struct{ name, old, next string }{
		{"same instance", "run-1", "run-1"},
		{"no instance before", "", "run-2"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := startCluster(t, Config{})
			_, old := helloRun(t, c, 0, "rc", "same", tc.old)
			if _, ok := old.next(t).(*wire.Welcome); !ok {
				t.Fatal("first connection: no welcome")
			}
			c.waitAgents("rc", 1)
			_, next := helloRun(t, c, 1, "rc", "same", tc.next)
			if m := next.next(t); !isWelcome(m) {
				t.Fatalf("reconnect on node B got %#v; want a welcome", m)
			}
			old.wantClosed(t, wire.CodeReplaced)
		})
	}
}

// An older connection that does not answer the ping of its node (a
// half-open socket) gives way to a new run of the agent on another node.
func TestClusterCopyDeadConnectionReplaced(t *testing.T) {
	c := startCluster(t, Config{})
	old := dialAgent(t, c.node(0).ts)
	if _, ok := old.helloRun("dc", "gone", "run-1").(*wire.Welcome); !ok {
		t.Fatal("first connection: no welcome")
	}
	c.waitAgents("dc", 1)
	// old reads nothing from now on: no pong.
	_, next := helloRun(t, c, 1, "dc", "gone", "run-2")
	if m := next.next(t); !isWelcome(m) {
		t.Fatalf("new run on node B got %#v; want a welcome", m)
	}
}

func (a *fakeAgent) helloRun(channel, id, instance string) wire.Message {
	a.t.Helper()
	a.send(&wire.Hello{Channel: channel, AgentID: id, AgentKey: testKey(id), Instance: instance})
	return a.read()
}

// The node of the running copy died without a word (its entries and
// heartbeat stay for a while): a new run gets in within about the time of
// a ping, not after the node is declared dead.
func TestClusterCopyOwnerNodeDead(t *testing.T) {
	c := startCluster(t, Config{})
	_, old := helloRun(t, c, 0, "od", "orphan", "run-1")
	if _, ok := old.next(t).(*wire.Welcome); !ok {
		t.Fatal("first connection: no welcome")
	}
	c.waitAgents("od", 1)
	nd := c.node(0)
	nd.srv.cfg.Cluster.Close() // its NATS connection first: no goodbye
	c.stopNode(0)
	start := time.Now()
	_, next := helloRun(t, c, 1, "od", "orphan", "run-2")
	if m := next.next(t); !isWelcome(m) {
		t.Fatalf("new run on node B got %#v; want a welcome", m)
	}
	if d := time.Since(start); d > copyCheck+3*time.Second {
		t.Fatalf("the new run got in after %v (node dead after %v)", d, nodeDeadAfter)
	}
}

// Two copies connecting at once to two nodes: one gets in, the other is
// refused, and the one that got in keeps its connection.
func TestClusterCopiesAtOnce(t *testing.T) {
	c := startCluster(t, Config{})
	for round := range 3 {
		channel := fmt.Sprintf("at%d", round)
		// A copy's agent id is bound already (the original ran before).
		setup := dialAgent(t, c.node(2).ts)
		if m := setup.helloRun(channel, "twin", "run-before"); !isWelcome(m) {
			t.Fatalf("round %d: the original's first run got %#v", round, m)
		}
		setup.ws.Close()
		c.waitAgents(channel, 0)
		var rs [2]*reading
		var as [2]*fakeAgent
		for i := range 2 {
			as[i] = dialAgent(t, c.node(i).ts)
			rs[i] = as[i].reading()
		}
		var wg sync.WaitGroup
		for i := range 2 {
			frame := helloFrame(t, channel, fmt.Sprintf("run-%d", i))
			wg.Go(func() { as[i].ws.WriteMessage(websocket.TextMessage, frame) })
		}
		wg.Wait()
		var in *fakeAgent
		var inR *reading
		taken := 0
		for i, r := range rs {
			switch m := r.next(t).(type) {
			case *wire.Welcome:
				if in != nil {
					t.Fatalf("round %d: both copies were welcomed", round)
				}
				in, inR = as[i], r
			case *wire.Error:
				if m.Code != wire.CodeAgentTaken {
					t.Fatalf("round %d: copy %d refused with %s: %s", round, i, m.Code, m.Message)
				}
				taken++
			default:
				t.Fatalf("round %d: copy %d got %#v", round, i, m)
			}
		}
		if in == nil || taken != 1 {
			t.Fatalf("round %d: %d refused, welcomed: %v", round, taken, in != nil)
		}
		c.waitAgents(channel, 1)
		go postQuiet(c.node(2).ts.URL+"/h/"+channel, []byte(`{"n":1}`))
		d, ok := inR.next(t).(*wire.Delivery)
		if !ok {
			t.Fatalf("round %d: the copy that got in lost its connection", round)
		}
		in.ack(d)
	}
}

func helloFrame(t *testing.T, channel, instance string) []byte {
	b, err := wire.Encode(&wire.Hello{Channel: channel, AgentID: "twin", AgentKey: testKey("twin"), Instance: instance})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Two more copies at once on two other nodes, while the first runs: both
// are refused (their nodes ask the first one's node at once, and it pings
// its agent once for both). The first one's pongs take a while, as over a
// slow network, so that the two questions overlap.
func TestClusterTwoCopiesAskAtOnce(t *testing.T) {
	c := startCluster(t, Config{})
	a := dialAgent(t, c.node(0).ts)
	a.ws.SetPingHandler(func(data string) error {
		time.Sleep(copyCheck / 4)
		return a.ws.WriteControl(websocket.PongMessage, []byte(data), time.Now().Add(time.Second))
	})
	first := a.reading()
	a.send(&wire.Hello{Channel: "tc", AgentID: "twin", AgentKey: testKey("twin"), Instance: "run-0"})
	if _, ok := first.next(t).(*wire.Welcome); !ok {
		t.Fatal("first connection: no welcome")
	}
	c.waitAgents("tc", 1)
	var rs [2]*reading
	var as [2]*fakeAgent
	for i := range 2 {
		as[i] = dialAgent(t, c.node(i+1).ts)
		rs[i] = as[i].reading()
	}
	var wg sync.WaitGroup
	for i := range 2 {
		frame := helloFrame(t, "tc", fmt.Sprintf("run-%d", i+1))
		wg.Go(func() { as[i].ws.WriteMessage(websocket.TextMessage, frame) })
	}
	wg.Wait()
	for i, r := range rs {
		if m := r.next(t); !isTaken(m) {
			t.Fatalf("copy %d got %#v; want refused as %s", i+1, m, wire.CodeAgentTaken)
		}
	}
	go postQuiet(c.node(2).ts.URL+"/h/tc", []byte(`{"n":1}`))
	if _, ok := first.next(t).(*wire.Delivery); !ok {
		t.Fatal("the first lost its connection")
	}
}

func isTaken(m wire.Message) bool {
	e, ok := m.(*wire.Error)
	return ok && e.Code == wire.CodeAgentTaken
}

func isWelcome(m wire.Message) bool {
	_, ok := m.(*wire.Welcome)
	return ok
}
