package relay

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/hooktap/hooktap/relay/natsnode/natstest"
	"github.com/hooktap/hooktap/relay/wire"
)

// registryBackends open a registry and, for the persistence case, the
// same registry again (a restarted relay, or another node).
var registryBackends = map[string]func(t *testing.T) (open func() registry){
	"sqlite": func(t *testing.T) func() registry {
		path := filepath.Join(t.TempDir(), "relay.db")
		return func() registry {
			buf, err := OpenBuffer(t.Context(), path)
			if err != nil {
				t.Fatal(err)
			}
			reg, err := openChannelRegistry(t.Context(), buf)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { reg.Close(); buf.Close() })
			return reg
		}
	},
	"jetstream": func(t *testing.T) func() registry {
		node := natstest.Cluster(t, 1).Node(t, 0)
		return func() registry {
			reg, err := openKVRegistry(t.Context(), node, nil)
			if err != nil {
				t.Fatal(err)
			}
			reg.Watch(nil)
			t.Cleanup(reg.Close)
			return reg
		}
	},
}

// One conformance suite, run against both registries.
func TestRegistryConformance(t *testing.T) {
	for name, backend := range registryBackends {
		t.Run(name, func(t *testing.T) {
			open := backend(t)
			reg := open()
			ctx := t.Context()

			tok, err := reg.Create(ctx, "billing", false)
			if err != nil || tok == "" {
				t.Fatalf("create: %q %v", tok, err)
			}
			if _, err := reg.Create(ctx, "billing", true); !errors.Is(err, ErrChannelExists) {
				t.Fatalf("second create: %v", err)
			}
			if !reg.Exists("billing") || reg.Exists("nope") {
				t.Fatal("Exists")
			}
			if reg.Check("billing", tok) != nil || reg.Check("billing", tok+"x") != errUnauthorized ||
				reg.Check("billing", "") != errUnauthorized || reg.Check("nope", tok) != ErrNoChannel {
				t.Fatal("Check")
			}
			if ok, consumed := reg.Ingress("billing", "anything"); !ok || consumed {
				t.Fatal("Ingress without a URL secret")
			}

			// Rotation: the old token stops, the new one works, times move.
			before := reg.List()[0]
			tok2, err := reg.Rotate(ctx, "billing")
			if err != nil || tok2 == tok {
				t.Fatalf("rotate: %v", err)
			}
			if reg.Check("billing", tok) == nil || reg.Check("billing", tok2) != nil {
				t.Fatal("after rotate")
			}
			after := reg.List()[0]
			if !after.CreatedAt.Equal(before.CreatedAt) || after.TokenSetAt.Before(before.TokenSetAt) {
				t.Fatalf("times: %+v then %+v", before, after)
			}
			if _, err := reg.Rotate(ctx, "nope"); !errors.Is(err, ErrNoChannel) {
				t.Fatalf("rotate unknown: %v", err)
			}

			// URL secrets; dotted names (KV keys use dots).
			for _, n := range []string{"ops", "a.b", "a..b", "x."} {
				if _, err := reg.Create(ctx, n, true); err != nil {
					t.Fatalf("create %s: %v", n, err)
				}
			}
			secret := reg.URLSecret("a..b")
			if ok, consumed := reg.Ingress("a..b", secret); secret == "" || !ok || !consumed {
				t.Fatal("Ingress with the secret")
			}
			if ok, _ := reg.Ingress("a..b", secret+"x"); ok {
				t.Fatal("Ingress with a wrong secret")
			}
			if err := reg.RotateURL(ctx, "a..b"); err != nil {
				t.Fatal(err)
			}
			if ok, _ := reg.Ingress("a..b", secret); ok || reg.URLSecret("a..b") == secret {
				t.Fatal("the old URL works after RotateURL")
			}
			if err := reg.RotateURL(ctx, "nope"); !errors.Is(err, ErrNoChannel) {
				t.Fatalf("rotate URL unknown: %v", err)
			}

			// Delete, and create again under the same name.
			if err := reg.Delete(ctx, "ops"); err != nil {
				t.Fatal(err)
			}
			if reg.Exists("ops") || !errors.Is(reg.Delete(ctx, "ops"), ErrNoChannel) {
				t.Fatal("delete")
			}
			opsTok, err := reg.Create(ctx, "ops", false)
			if err != nil {
				t.Fatalf("create after delete: %v", err)
			}

			var names []string
			for _, c := range reg.List() {
				names = append(names, c.Name)
			}
			want := []string{"a..b", "a.b", "billing", "ops", "x."}
			if !slices.Equal(names, want) {
				t.Fatalf("List = %v, want %v", names, want)
			}

			// What was written is there when the registry is opened again.
			again := open()
			if again.Check("billing", tok2) != nil || again.Check("ops", opsTok) != nil ||
				again.URLSecret("a..b") != reg.URLSecret("a..b") || len(again.List()) != len(want) {
				t.Fatal("reopened registry differs")
			}
		})
	}
}

// Registries on two nodes of a cluster: what one writes, the other knows
// at once (as soon as the watch brings it), and it is told of rotations and
// deletions for its own agents.
func TestKVRegistryAcrossNodes(t *testing.T) {
	c := natstest.Cluster(t, 3)
	open := func(i int) (*kvRegistry, chan string) {
		reg, err := openKVRegistry(t.Context(), c.Node(t, i), nil)
		if err != nil {
			t.Fatal(err)
		}
		heard := make(chan string, 16)
		reg.Watch(func(name string, ch change) { heard <- name + " " + [...]string{"", "token", "url", "deleted"}[ch] })
		t.Cleanup(reg.Close)
		return reg, heard
	}
	a, heardA := open(0)
	b, heardB := open(1)
	tok, err := a.Create(t.Context(), "ops", false)
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "node b knows the new channel", func() bool { return b.Check("ops", tok) == nil })
	if _, err := a.Rotate(t.Context(), "ops"); err != nil {
		t.Fatal(err)
	}
	if got := recv(t, heardB); got != "ops token" {
		t.Fatalf("node b heard %q", got)
	}
	if b.Check("ops", tok) == nil {
		t.Fatal("node b still takes the old token")
	}
	if err := b.RotateURL(t.Context(), "ops"); err != nil {
		t.Fatal(err)
	}
	if got := recv(t, heardA); got != "ops url" {
		t.Fatalf("node a heard %q", got)
	}
	if err := a.Delete(t.Context(), "ops"); err != nil {
		t.Fatal(err)
	}
	if got := recv(t, heardB); got != "ops deleted" {
		t.Fatalf("node b heard %q", got)
	}
	// A node is not told of its own changes (its admin API acts on them).
	select {
	case got := <-heardA:
		t.Fatalf("node a heard its own change %q", got)
	default:
	}
}

// A registry's Close returns, within watchStopWait, though its watch is
// stuck telling of another node's change (a relay's Close must end).
func TestKVRegistryCloseReturnsWhileWatchStuck(t *testing.T) {
	c := natstest.Cluster(t, 1)
	a, err := openKVRegistry(t.Context(), c.Node(t, 0), nil)
	if err != nil {
		t.Fatal(err)
	}
	unblock := make(chan struct{})
	defer close(unblock)
	stuck := make(chan struct{}, 1)
	a.Watch(func(string, change) {
		stuck <- struct{}{}
		<-unblock
	})
	b, err := openKVRegistry(t.Context(), c.Node(t, 0), nil)
	if err != nil {
		t.Fatal(err)
	}
	b.Watch(nil)
	t.Cleanup(b.Close)
	if _, err := b.Create(t.Context(), "ops", false); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "node a knows the new channel", func() bool { return a.Check("ops", "") != ErrNoChannel })
	if _, err := b.Rotate(t.Context(), "ops"); err != nil {
		t.Fatal(err)
	}
	select {
	case <-stuck:
	case <-time.After(10 * time.Second):
		t.Fatal("node a was not told of the rotation")
	}
	closed := make(chan struct{})
	go func() {
		a.Close()
		close(closed)
	}()
	select {
	case <-closed:
	case <-time.After(20 * time.Second):
		t.Fatal("Close still waits for the stuck watch")
	}
}

func recv(t *testing.T, ch chan string) string {
	t.Helper()
	select {
	case s := <-ch:
		return s
	case <-time.After(10 * time.Second):
		t.Fatal("nothing heard in 10s")
		return ""
	}
}

// Three relay nodes on one NATS cluster: rotating a channel's token through
// node A's admin API disconnects its agents on A, B and C, each with the
// final "unauthorized"; the new token then works on every node.
func TestRotateDisconnectsAgentsOnEveryNode(t *testing.T) {
	c := natstest.Cluster(t, 3)
	var nodes []*httptest.Server
	for i := range 3 {
		srv, err := New(t.Context(), Config{DataDir: t.TempDir(), AdminToken: testAdmin, Cluster: c.Node(t, i)})
		if err != nil {
			t.Fatal(err)
		}
		ts := httptest.NewServer(srv.Handler())
		t.Cleanup(func() { ts.CloseClientConnections(); ts.Close(); srv.Close() })
		nodes = append(nodes, ts)
	}
	code, body := api(t, "POST", nodes[0].URL+"/api/channels", testAdmin, `{"name":"ops"}`)
	var ct ChannelToken
	if code != http.StatusCreated || json.Unmarshal(body, &ct) != nil {
		t.Fatalf("create: %d %s", code, body)
	}
	hello := func(ts *httptest.Server, id, token string) (*fakeAgent, wire.Message) {
		a := dialAgent(t, ts)
		a.send(&wire.Hello{Channel: "ops", Token: token, AgentID: id, AgentKey: testKey(id)})
		return a, a.read()
	}
	var agents []*fakeAgent
	for i, ts := range nodes {
		id := "agt_" + string(rune('a'+i))
		var m wire.Message
		deadline := time.Now().Add(10 * time.Second)
		for { // node i learns of the channel through its watch
			var a *fakeAgent
			a, m = hello(ts, id, ct.Token)
			if _, ok := m.(*wire.Welcome); ok || time.Now().After(deadline) {
				agents = append(agents, a)
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
		if _, ok := m.(*wire.Welcome); !ok {
			t.Fatalf("node %d: %+v, want a welcome", i, m)
		}
	}

	code, body = api(t, "POST", nodes[0].URL+"/api/channels/ops/rotate-token", testAdmin, "")
	var rot ChannelToken
	if code != http.StatusOK || json.Unmarshal(body, &rot) != nil {
		t.Fatalf("rotate: %d %s", code, body)
	}
	for i, a := range agents {
		for { // pings may come first
			if e, ok := a.read().(*wire.Error); ok {
				if e.Code != wire.CodeUnauthorized {
					t.Errorf("node %d: %+v, want %s", i, e, wire.CodeUnauthorized)
				}
				break
			}
		}
	}
	for i, ts := range nodes {
		if _, m := hello(ts, "agt_new", rot.Token); m == nil {
			t.Fatalf("node %d: nothing", i)
		} else if _, ok := m.(*wire.Welcome); !ok {
			t.Fatalf("node %d with the new token: %+v", i, m)
		}
	}
}

// On a cluster, a channel deleted and created again starts empty, as on a
// single relay: its deliveries leave the stream with it.
func TestClusterDeleteDropsDeliveries(t *testing.T) {
	c := natstest.Cluster(t, 1)
	srv, err := New(t.Context(), Config{DataDir: t.TempDir(), AdminToken: testAdmin, Cluster: c.Node(t, 0)})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(func() { ts.CloseClientConnections(); ts.Close(); srv.Close() })
	depth := func() int64 {
		d, err := srv.store.Depth(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		return d["ops"]
	}
	for _, name := range []string{"ops", "other"} {
		if code, body := api(t, "POST", ts.URL+"/api/channels", testAdmin, `{"name":"`+name+`"}`); code != http.StatusCreated {
			t.Fatalf("create %s: %d %s", name, code, body)
		}
		if resp, b := post(t, ts.URL+"/h/"+name+"/x", []byte(`{}`)); resp.StatusCode != http.StatusAccepted {
			t.Fatalf("post %s: %d %s", name, resp.StatusCode, b)
		}
	}
	if depth() != 1 {
		t.Fatalf("depth before delete: %d", depth())
	}
	if code, _ := api(t, "DELETE", ts.URL+"/api/channels/ops", testAdmin, ""); code != http.StatusNoContent {
		t.Fatalf("delete: %d", code)
	}
	api(t, "POST", ts.URL+"/api/channels", testAdmin, `{"name":"ops"}`)
	if d, _ := srv.store.Depth(t.Context()); d["ops"] != 0 || d["other"] != 1 {
		t.Fatalf("after delete and create again: %v, want ops 0, other 1", d)
	}
}
