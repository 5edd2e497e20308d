package agent_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/hooktap/hooktap/inspector/agent"
	"github.com/hooktap/hooktap/inspector/forward"
	"github.com/hooktap/hooktap/inspector/live"
	"github.com/hooktap/hooktap/inspector/store"
	"github.com/hooktap/hooktap/relay"
	"github.com/hooktap/hooktap/relay/wire"
)

// runDevAgent runs an agent on channel dev forwarding to target until the
// test ends, attached to srv in memory when attach is set (as in hooktap
// dev), else over WebSocket to relayURL; it returns its store once the
// agent is connected.
func runDevAgent(t *testing.T, srv *relay.Server, relayURL, target string, attach bool) *store.Store {
	t.Helper()
	st, err := store.Open(t.Context(), filepath.Join(t.TempDir(), "agent.db"))
	if err != nil {
		t.Fatal(err)
	}
	fwd, err := forward.New(target, 0)
	if err != nil {
		t.Fatal(err)
	}
	bus := live.NewBus()
	events, unsub := bus.Subscribe(1024)
	cfg := agent.Config{Relay: relayURL, Channel: "dev", Store: st, Forwarder: fwd, Bus: bus}
	if attach {
		cfg.Dial = func(context.Context) (*wire.Conn, error) {
			a, r := wire.Pipe()
			srv.Attach(r, relayURL)
			return a, nil
		}
	}
	ag, err := agent.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- ag.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		<-done
		unsub()
		st.Close()
	})
	for {
		select {
		case ev := <-events:
			if ev.Kind == live.EventRelay && ev.Relay.State == live.StateConnected {
				return st
			}
		case <-time.After(10 * time.Second):
			t.Fatal("agent did not connect")
		}
	}
}

// An agent attached in memory gets every delivery, records it before the
// sender's answer, and shares the channel with an agent over WebSocket,
// which gets the same deliveries (the same messages, shared: run with
// -race).
func TestAttachedInMemory(t *testing.T) {
	ap := newApp(t, nil)
	srv, err := relay.New(t.Context(), relay.Config{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	rs := httptest.NewServer(srv.Handler())
	t.Cleanup(func() {
		rs.CloseClientConnections()
		rs.Close()
		srv.Close()
	})
	mem := runDevAgent(t, srv, rs.URL, ap.URL+"/webhooks", true)
	ws := runDevAgent(t, srv, rs.URL, ap.URL+"/webhooks", false)

	const n = 64
	ids := make(chan string, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			body := fmt.Appendf(nil, `{"object_type":"payable","action":"payable.created","n":%d}`, i)
			resp, _ := do(t, "POST", rs.URL+"/h/dev/billing?x=1", body, http.Header{"Content-Type": {"application/json"}, "X-Custom": {"kept"}})
			id := resp.Header.Get(relay.HeaderDelivery)
			if resp.StatusCode != http.StatusCreated {
				t.Errorf("sender got %d", resp.StatusCode)
			}
			ids <- id
		}()
	}
	wg.Wait()
	close(ids)
	for id := range ids {
		// The first answer is the sender's: the one agent whose ack came
		// first had it stored by then; both have it once both acked.
		for _, st := range []*store.Store{mem, ws} {
			deadline := time.Now().Add(10 * time.Second)
			for {
				d, err := st.Get(t.Context(), id)
				if err == nil && d.Status == http.StatusCreated && d.Header.Get("X-Custom") == "kept" && d.Path == "/billing" {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("delivery %s: %+v %v", id, d, err)
				}
				time.Sleep(10 * time.Millisecond)
			}
		}
	}
	if got := srv.Agents()["dev"]; got != 2 {
		t.Errorf("%d agents on dev, want 2", got)
	}
}
