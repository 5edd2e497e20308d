package relay

import (
	"errors"
	"fmt"
	"net/http"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/hooktap/hooktap/relay/natsnode/natstest"
	"github.com/hooktap/hooktap/relay/payload"
	"github.com/hooktap/hooktap/relay/wire"
)

// The conformance suite: every case runs against the single relay's
// SQLite buffer and the cluster's JetStream stream (a real in-process
// nats-server).

// backend opens a fresh Storage with the given retention.
type backend struct {
	name string
	open func(t *testing.T, ttl time.Duration, max int) Storage
	// retries: Append retries a failed write itself, so a retried
	// delivery id must be stored once (the SQLite writer does not retry: a
	// failed commit is answered 503 and the sender's retry has a new id).
	retries bool
}

var backends = []backend{
	{name: "sqlite", open: func(t *testing.T, _ time.Duration, _ int) Storage {
		b, err := OpenBuffer(t.Context(), filepath.Join(t.TempDir(), "relay.db"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { b.Close() })
		return b
	}},
	{name: "jetstream", retries: true, open: func(t *testing.T, ttl time.Duration, max int) Storage {
		node := natstest.Cluster(t, 1).Node(t, 0)
		cfg, err := Config{DataDir: t.TempDir(), BufferTTL: ttl, BufferMax: max}.withDefaults()
		if err != nil {
			t.Fatal(err)
		}
		l, err := openStreamLog(t.Context(), node, cfg, answerPrefix+"test", nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { l.Close() })
		return l
	}},
}

// eachBackend runs f as a subtest per backend.
func eachBackend(t *testing.T, ttl time.Duration, max int, f func(t *testing.T, b backend, s Storage)) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) { f(t, b, b.open(t, ttl, max)) })
	}
}

func testDelivery(channel, id, action string) *wire.Delivery {
	d := &wire.Delivery{
		ID: id, Channel: channel, ReceivedAt: time.Now().UTC().Truncate(time.Microsecond),
		Method: "POST", Path: "/x/" + id, Query: "a=1&b=%0A", Host: "relay.test", Proto: "https",
		RemoteAddr: "192.0.2.1",
		Header:     http.Header{"Content-Type": {"application/json"}, "X-Odd": {"a\xffb", "two"}},
		Body:       []byte(`{"action":"` + action + `","object_type":"payable","id":"` + id + `"}`),
	}
	f := payload.Parse(d.Header, d.Body)
	d.Fields = &f
	return d
}

var testIDs int

func appendN(t *testing.T, s Storage, channel string, n int) []*wire.Delivery {
	t.Helper()
	var out []*wire.Delivery
	for range n {
		testIDs++
		d := testDelivery(channel, fmt.Sprintf("%s-%d", channel, testIDs), "payable.created")
		if err := s.Append(t.Context(), d, nil); err != nil {
			t.Fatal(err)
		}
		out = append(out, d)
	}
	return out
}

func TestStorageAppendReadOrder(t *testing.T) {
	eachBackend(t, time.Hour, 0, func(t *testing.T, _ backend, s Storage) {
		var a, b []*wire.Delivery
		for range 4 { // interleaved: seqs grow per channel, gaps or not
			a = append(a, appendN(t, s, "ch-a", 1)...)
			b = append(b, appendN(t, s, "ch.b", 1)...)
		}
		ids := func(ds []*wire.Delivery) (out []string) {
			for _, d := range ds {
				out = append(out, d.ID)
			}
			return out
		}
		for i := 1; i < len(a); i++ {
			if a[i].Seq <= a[i-1].Seq {
				t.Fatalf("seqs do not grow: %d then %d", a[i-1].Seq, a[i].Seq)
			}
		}
		if h, err := s.Head(t.Context(), "ch-a"); err != nil || h != a[3].Seq {
			t.Fatalf("head %d, %v; want %d", h, err, a[3].Seq)
		}
		if err := s.Settled(t.Context(), "ch-a"); err != nil {
			t.Fatal(err)
		}
		got, more, err := s.After(t.Context(), "ch-a", 0, 10, 1<<20)
		if err != nil || more || !slices.Equal(ids(got), ids(a)) {
			t.Fatalf("after 0: %v more=%v err=%v; want %v", ids(got), more, err, ids(a))
		}
		if got, _, err := s.After(t.Context(), "ch.b", 0, 10, 1<<20); err != nil || !slices.Equal(ids(got), ids(b)) {
			t.Fatalf("other channel: %v, %v; want %v", ids(got), err, ids(b))
		}
		want := a[0]
		if g := got[0]; g.Seq != want.Seq || g.Method != want.Method || g.Path != want.Path || g.Query != want.Query ||
			g.Host != want.Host || g.Proto != want.Proto || g.RemoteAddr != want.RemoteAddr || !g.ReceivedAt.Equal(want.ReceivedAt) ||
			string(g.Body) != string(want.Body) || !slices.Equal(g.Header["X-Odd"], want.Header["X-Odd"]) {
			t.Fatalf("read back %+v\nwant %+v", g, want)
		}
		got, more, err = s.After(t.Context(), "ch-a", a[1].Seq, 1, 1<<20)
		if err != nil || !more || len(got) != 1 || got[0].ID != a[2].ID {
			t.Fatalf("after seq 2, limit 1: %v more=%v err=%v", ids(got), more, err)
		}
		got, rest, err := s.Deliveries(t.Context(), "ch-a", []int64{a[0].Seq, a[3].Seq, a[3].Seq + 100}, 1<<20)
		if err != nil || len(rest) != 0 || !slices.Equal(ids(got), []string{a[0].ID, a[3].ID}) {
			t.Fatalf("by seqs: %v rest %v err %v", ids(got), rest, err)
		}
		depth, err := s.Depth(t.Context())
		if err != nil || depth["ch-a"] != 4 || depth["ch.b"] != 4 {
			t.Fatalf("depth %v, %v", depth, err)
		}
		s.Forget("ch-a", a[1].Seq)
		waitFor(t, "forgotten delivery gone", func() bool {
			got, _, _ := s.After(t.Context(), "ch-a", 0, 10, 1<<20)
			return slices.Equal(ids(got), []string{a[0].ID, a[2].ID, a[3].ID})
		})
	})
}

func TestStorageRetriedIDStoredOnce(t *testing.T) {
	for _, b := range backends {
		if !b.retries {
			continue // see backend.retries
		}
		t.Run(b.name, func(t *testing.T) {
			s := b.open(t, time.Hour, 0)
			d := testDelivery("c", "same-id", "x")
			if err := s.Append(t.Context(), d, nil); err != nil {
				t.Fatal(err)
			}
			again := testDelivery("c", "same-id", "x")
			if err := s.Append(t.Context(), again, nil); err != nil {
				t.Fatal(err)
			}
			got, _, err := s.After(t.Context(), "c", 0, 10, 1<<20)
			if err != nil || len(got) != 1 || again.Seq != d.Seq {
				t.Fatalf("%d stored, seqs %d and %d, err %v: want one", len(got), d.Seq, again.Seq, err)
			}
		})
	}
}

func TestStorageCursors(t *testing.T) {
	eachBackend(t, time.Hour, 0, func(t *testing.T, _ backend, s Storage) {
		ds := appendN(t, s, "c", 3)
		start, err := s.Bind(t.Context(), "c", "agent one", "k1")
		if err != nil || start != 0 {
			t.Fatalf("first agent starts at %d, %v; want 0", start, err)
		}
		if err := <-s.SetCursors([]Cursor{{"c", "agent one", ds[1].Seq}}); err != nil {
			t.Fatal(err)
		}
		if err := <-s.SetCursors([]Cursor{{"c", "agent one", ds[0].Seq}}); err != nil { // never back
			t.Fatal(err)
		}
		if got, err := s.Bind(t.Context(), "c", "agent one", "k1"); err != nil || got != ds[1].Seq {
			t.Fatalf("resume at %d, %v; want %d", got, err, ds[1].Seq)
		}
		if _, err := s.Bind(t.Context(), "c", "agent one", "k2"); !errors.Is(err, ErrAgentTaken) {
			t.Fatalf("another key: %v; want ErrAgentTaken", err)
		}
		if got, err := s.Bind(t.Context(), "c", "agent.two/ü", "k3"); err != nil || got != ds[1].Seq {
			t.Fatalf("new agent starts at %d, %v; want the furthest cursor %d", got, err, ds[1].Seq)
		}
		if got, err := s.Bind(t.Context(), "other", "agent one", "k9"); err != nil || got != 0 {
			t.Fatalf("same id on another channel: %d, %v", got, err)
		}
	})
}

func TestStorageUnclaimed(t *testing.T) {
	eachBackend(t, time.Hour, 0, func(t *testing.T, _ backend, s Storage) {
		kept := testDelivery("c", "kept", "invoice.paid")
		if err := s.Append(t.Context(), kept, func() (bool, func()) { return true, nil }); err != nil {
			t.Fatal(err)
		}
		left := appendN(t, s, "c", 2)
		s.Unclaim("c", []Pending{{left[1].Seq, Event{Action: "payable.created"}}})
		<-s.FlushClaims(0)
		seqs := func() (out []int64) {
			ps, _, err := s.Unclaimed(t.Context(), "c", 0, 1<<62, 100)
			if err != nil {
				t.Fatal(err)
			}
			for _, p := range ps {
				out = append(out, p.Seq)
			}
			return out
		}
		if got := seqs(); !slices.Contains(got, kept.Seq) {
			t.Fatalf("unclaimed %v: want %d (kept before Append returned)", got, kept.Seq)
		}
		waitFor(t, "what an agent left in flight unclaimed", func() bool { return slices.Contains(seqs(), left[1].Seq) })
		ps, _, _ := s.Unclaimed(t.Context(), "c", 0, kept.Seq, 10)
		if len(ps) != 1 || ps[0].Action != "invoice.paid" {
			t.Fatalf("unclaimed through %d: %+v; want the kept one with its event", kept.Seq, ps)
		}
		if ps, more, _ := s.Unclaimed(t.Context(), "c", 0, 1<<62, 1); len(ps) != 1 || !more || ps[0].Seq != kept.Seq {
			t.Fatalf("limit 1: %+v more=%v", ps, more)
		}
		s.Claim("c", kept.Seq)
		s.Claim("c", left[1].Seq)
		<-s.FlushClaims(0)
		waitFor(t, "acked deliveries claimed", func() bool {
			got := seqs()
			return !slices.Contains(got, kept.Seq) && !slices.Contains(got, left[1].Seq)
		})
	})
}

func TestStoragePrune(t *testing.T) {
	const ttl, max = 2 * time.Second, 3
	eachBackend(t, ttl, max, func(t *testing.T, _ backend, s Storage) {
		ds := appendN(t, s, "c", 5)
		prune := func() {
			if _, err := s.Prune(t.Context(), time.Now().Add(-ttl), max, nil); err != nil {
				t.Fatal(err)
			}
		}
		after := func() []*wire.Delivery {
			got, _, err := s.After(t.Context(), "c", 0, 10, 1<<20)
			if err != nil {
				t.Fatal(err)
			}
			return got
		}
		waitFor(t, "all but the newest 3 pruned", func() bool {
			prune()
			got := after()
			return len(got) == max && got[0].ID == ds[2].ID
		})
		waitFor(t, "everything older than the TTL pruned", func() bool {
			prune()
			return len(after()) == 0
		})
		if d := appendN(t, s, "c", 1)[0]; d.Seq <= ds[4].Seq {
			t.Fatalf("seq %d after pruning: not past %d", d.Seq, ds[4].Seq)
		}
	})
}

// waitFor polls cond until it holds, failing the test after 20 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting: %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestStoragePruneCursors: a cursor (and so its key binding) goes once its
// agent is not connected, has not moved since the cutoff and has nothing of
// its channel left after it; the others stay.
func TestStoragePruneCursors(t *testing.T) {
	eachBackend(t, time.Hour, 1000, func(t *testing.T, _ backend, s Storage) {
		ctx := t.Context()
		agents := []Cursor{{Channel: "c", AgentID: "agt_gone"}, {Channel: "c", AgentID: "agt_here"}, {Channel: "w", AgentID: "agt_waiting"}}
		for _, a := range agents {
			if _, err := s.Bind(ctx, a.Channel, a.AgentID, "key-"+a.AgentID); err != nil {
				t.Fatal(err)
			}
		}
		cutoff := time.Now()
		for !time.Now().After(cutoff) { // entries are stamped by the clock
		}
		appendN(t, s, "w", 1) // received after the cutoff: agt_waiting's
		connected := func(channel, id string) bool { return channel == "c" && id == "agt_here" }
		if _, err := s.Prune(ctx, cutoff, 1000, connected); err != nil {
			t.Fatal(err)
		}
		// A binding that is gone lets another key take the id.
		for _, a := range agents {
			_, err := s.Bind(ctx, a.Channel, a.AgentID, "another-key")
			if pruned := a.AgentID == "agt_gone"; pruned && err != nil || !pruned && !errors.Is(err, ErrAgentTaken) {
				t.Errorf("%s: Bind with another key: %v; want pruned=%v", a.AgentID, err, pruned)
			}
		}
	})
}
