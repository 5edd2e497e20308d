package agent_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hooktap/hooktap/inspector/agent"
	"github.com/hooktap/hooktap/inspector/forward"
	"github.com/hooktap/hooktap/inspector/live"
	"github.com/hooktap/hooktap/inspector/store"
	"github.com/hooktap/hooktap/relay"
)

// healthAgent runs a relay and an agent forwarding to target that checks
// the app every checkEvery; it returns the agent's app health events, in
// order, and the ingress URL once connected.
func healthAgent(t *testing.T, target string, checkEvery time.Duration, routes ...string) (<-chan live.Event, string) {
	t.Helper()
	srv, err := relay.New(t.Context(), relay.Config{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	rs := httptest.NewServer(srv.Handler())
	st, err := store.Open(t.Context(), filepath.Join(t.TempDir(), "agent.db"))
	if err != nil {
		t.Fatal(err)
	}
	fwd, err := forward.New(target, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	var rs2 []forward.Route
	for _, r := range routes {
		route, err := forward.ParseRoute(r, time.Second, forward.New)
		if err != nil {
			t.Fatal(err)
		}
		rs2 = append(rs2, route)
	}
	apps, conns := make(chan live.Event, 1024), make(chan live.Event, 1024)
	report := func(e live.Event) {
		switch e.Kind {
		case live.EventApp:
			apps <- e
		case live.EventRelay:
			conns <- e
		}
	}
	ag, err := agent.New(agent.Config{Relay: rs.URL, Channel: "dev", Store: st, Forwarder: fwd,
		Routes: rs2, Report: report, AppCheckEvery: checkEvery})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- ag.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		<-done
		rs.CloseClientConnections()
		rs.Close()
		srv.Close()
		st.Close()
	})
	ev := nextEvent(t, conns, func(e live.Event) bool { return e.Relay.State == live.StateConnected })
	return apps, ev.Relay.URL
}

// nextEvent is the next event that match accepts.
func nextEvent(t *testing.T, events <-chan live.Event, match func(live.Event) bool) live.Event {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		select {
		case e := <-events:
			if match(e) {
				return e
			}
		case <-deadline:
			t.Fatal("no such event in 10 s")
		}
	}
}

func isApp(e live.Event) bool { return e.Kind == live.EventApp }

// freeAddr is a loopback address nothing listens on (for now).
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// serveOn starts an app on addr that answers 200.
func serveOn(t *testing.T, addr string) *http.Server {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	s := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {})}
	go s.Serve(ln)
	t.Cleanup(func() { s.Close() })
	return s
}

// TestAppHealthProbe: an agent whose app is not up says so at once, and
// notices within a check interval when the app comes up, with no delivery.
func TestAppHealthProbe(t *testing.T) {
	addr := freeAddr(t)
	events, _ := healthAgent(t, "http://"+addr+"/webhooks", 50*time.Millisecond)
	h := nextEvent(t, events, isApp).App
	if !h.Down() || h.Addr != addr || h.Err != "connection refused" ||
		h.Problem() != "nothing is listening on "+addr+" — start your app, or point hooktap at it with --forward-to URL (make run FORWARD_TO=URL)" {
		t.Fatalf("first health %+v (%q)", h, h.Problem())
	}
	serveOn(t, addr)
	if h := nextEvent(t, events, isApp).App; !h.Listening || h.Down() {
		t.Fatalf("after the app came up: %+v", h)
	}
}

// TestAppHealthFromForwards: between checks (here an hour apart), the
// outcome of real forwards tells whether the app listens.
func TestAppHealthFromForwards(t *testing.T) {
	addr := freeAddr(t)
	app := serveOn(t, addr)
	events, ingress := healthAgent(t, "http://"+addr+"/webhooks", time.Hour)
	if h := nextEvent(t, events, isApp).App; !h.Listening {
		t.Fatalf("first health %+v", h)
	}
	app.Close()
	resp, _ := do(t, "POST", ingress, []byte(`{"action":"a.b"}`), nil)
	if resp.StatusCode != http.StatusBadGateway {
		t.Fatalf("sender got %d", resp.StatusCode)
	}
	if h := nextEvent(t, events, isApp).App; !h.Down() || h.Err != "connection refused" {
		t.Fatalf("after a refused forward: %+v", h)
	}
	serveOn(t, addr)
	if resp, _ := do(t, "POST", ingress, []byte(`{"action":"a.b"}`), nil); resp.StatusCode != http.StatusOK {
		t.Fatalf("sender got %d", resp.StatusCode)
	}
	if h := nextEvent(t, events, isApp).App; !h.Listening {
		t.Fatalf("after an answered forward: %+v", h)
	}
}

// TestAppHealthNotFromRoutes: a forward that a route sent to another app
// says nothing of the --forward-to app: a refused route did not show the
// default app, which listened, as "nothing is listening".
func TestAppHealthNotFromRoutes(t *testing.T) {
	addr, dead := freeAddr(t), freeAddr(t)
	serveOn(t, addr)
	events, ingress := healthAgent(t, "http://"+addr+"/webhooks", time.Hour, "payable.*=http://"+dead+"/payables")
	if h := nextEvent(t, events, isApp).App; !h.Listening {
		t.Fatalf("first health %+v", h)
	}
	resp, _ := do(t, "POST", ingress, []byte(`{"action":"payable.created"}`), nil)
	if resp.StatusCode != http.StatusBadGateway {
		t.Fatalf("sender got %d", resp.StatusCode)
	}
	// The sender's answer comes after the attempt was noted: any health
	// event it caused is in the channel by now.
	select {
	case e := <-events:
		t.Fatalf("a refused route changed the default app's health: %+v", e.App)
	default:
	}
}

// TestNotARelay: a URL whose server answers the agent's WebSocket request
// with plain HTTP (an app, a web server) is not a relay: the agent stops at
// once and says so, a 500 or 501 included (Python's http.server answers a
// GET it has no handler for with 501). A proxy answering 502-504 is
// retried, with the reason.
func TestNotARelay(t *testing.T) {
	for _, code := range []int{200, 404, 500, 501, 503} {
		web := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(code)
		}))
		defer web.Close()
		st, err := store.Open(t.Context(), filepath.Join(t.TempDir(), "a.db"))
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		fwd, _ := forward.New("http://127.0.0.1:1", time.Second)
		events := make(chan live.Event, 1024)
		ag, err := agent.New(agent.Config{Relay: web.URL, Channel: "dev", Store: st, Forwarder: fwd,
			Report: func(e live.Event) { events <- e }})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
		done := make(chan error, 1)
		go func() { done <- ag.Run(ctx) }()
		isRelay := func(e live.Event) bool { return e.Kind == live.EventRelay && e.Relay.State != live.StateConnecting }
		ev := nextEvent(t, events, isRelay).Relay
		if code == 503 {
			if ev.State != live.StateReconnecting || !strings.Contains(ev.Reason, "503 Service Unavailable") {
				t.Errorf("503: %+v", ev)
			}
			cancel()
			<-done
			continue
		}
		err = <-done
		cancel()
		want := fmt.Sprintf("%s is not a hooktap relay: it answered %d %s", web.URL, code, http.StatusText(code))
		if !errors.Is(err, agent.ErrNotRelay) || !strings.Contains(err.Error(), want) {
			t.Errorf("%d: Run returned %v, want %q", code, err, want)
		}
		if ev.State != live.StateRefused || !strings.Contains(ev.Reason, want) {
			t.Errorf("%d: status %+v", code, ev)
		}
	}
}
