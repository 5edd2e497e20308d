package agent_test

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/hooktap/hooktap/inspector/agent"
	"github.com/hooktap/hooktap/inspector/forward"
	"github.com/hooktap/hooktap/inspector/live"
	"github.com/hooktap/hooktap/inspector/store"
	"github.com/hooktap/hooktap/inspector/testenv"
	"github.com/hooktap/hooktap/relay/wire"
)

// fakeRelay runs script for each agent connection; conns counts them.
func fakeRelay(t *testing.T, script func(n int32, ws *websocket.Conn)) (*httptest.Server, *atomic.Int32) {
	var conns atomic.Int32
	up := websocket.Upgrader{}
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ws, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer ws.Close()
		n := conns.Add(1)
		ws.SetReadDeadline(time.Now().Add(10 * time.Second))
		if _, _, err := ws.ReadMessage(); err != nil { // hello
			return
		}
		script(n, ws)
	}))
	t.Cleanup(func() {
		ts.CloseClientConnections()
		ts.Close()
	})
	return ts, &conns
}

func send(ws *websocket.Conn, m wire.Message) {
	b, _ := wire.Encode(m)
	ws.WriteMessage(websocket.TextMessage, b)
}

func runAgent(t *testing.T, relayURL, target string) (*store.Store, <-chan live.Event) {
	t.Helper()
	store, err := store.Open(t.Context(), filepath.Join(t.TempDir(), "a.db"))
	if err != nil {
		t.Fatal(err)
	}
	fwd, _ := forward.New(target, time.Second)
	bus := live.NewBus()
	events, unsub := bus.Subscribe(256)
	agent, err := agent.New(agent.Config{Relay: relayURL, Channel: "dev", Store: store, Forwarder: fwd, Bus: bus})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- agent.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("agent.Run: %v", err)
		}
		unsub()
		store.Close()
	})
	return store, events
}

func TestAgentSurvivesGarbageFromRelay(t *testing.T) {
	ack := make(chan *wire.Ack, 1)
	relay, conns := fakeRelay(t, func(n int32, ws *websocket.Conn) {
		if n == 1 {
			ws.WriteMessage(websocket.TextMessage, []byte("garbage, not a message"))
			ws.ReadMessage() // the agent closes with a reason
			return
		}
		send(ws, &wire.Welcome{Channel: "dev", URL: "http://relay/h/dev"})
		send(ws, &wire.Delivery{ID: "d_after_garbage", Seq: 1, Method: "POST", Body: []byte("{}")})
		for {
			_, b, err := ws.ReadMessage()
			if err != nil {
				return
			}
			if m, err := wire.Decode(b); err == nil {
				if a, ok := m.(*wire.Ack); ok {
					ack <- a
					return
				}
			}
		}
	})
	app := newApp(t, nil)
	runAgent(t, relay.URL, app.URL)
	select {
	case a := <-ack:
		if a.ID != "d_after_garbage" || a.Status != http.StatusCreated {
			t.Fatalf("ack %+v", a)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("agent did not reconnect after garbage")
	}
	if conns.Load() < 2 {
		t.Fatalf("connections %d", conns.Load())
	}
}

func TestAgentNeverLeavesItsTarget(t *testing.T) {
	hostile := []struct{ id, path, query string }{
		{"traversal", "/../admin", ""},
		{"encoded-traversal", "/%2e%2e/admin", ""},
		{"crlf", "/a%0d%0aX-Injected:%201", ""},
		{"no-slash", "@evil.example/x", ""},
		{"query-crlf", "/ok", "a=1\r\nX-Injected: 1"},
		{"double-slash", "//evil.example/x", ""},
	}
	acks := make(chan *wire.Ack, len(hostile))
	relay, _ := fakeRelay(t, func(n int32, ws *websocket.Conn) {
		send(ws, &wire.Welcome{Channel: "dev", URL: "http://relay/h/dev"})
		for i, h := range hostile {
			send(ws, &wire.Delivery{ID: h.id, Seq: int64(i + 1), Method: "POST", Path: h.path, Query: h.query,
				Header: http.Header{"Host": {"evil.example"}}, Body: []byte("{}")})
		}
		for {
			_, b, err := ws.ReadMessage()
			if err != nil {
				return
			}
			if m, err := wire.Decode(b); err == nil {
				if a, ok := m.(*wire.Ack); ok {
					acks <- a
				}
			}
		}
	})
	app := newApp(t, nil)
	runAgent(t, relay.URL, app.URL+"/hooks")
	got := map[string]*wire.Ack{}
	for len(got) < len(hostile) {
		select {
		case a := <-acks:
			got[a.ID] = a
		case <-time.After(15 * time.Second):
			t.Fatalf("acks: %d of %d", len(got), len(hostile))
		}
	}
	for _, id := range []string{"traversal", "encoded-traversal", "crlf", "no-slash", "query-crlf"} {
		if a := got[id]; a.Status != 0 || !strings.HasPrefix(a.Error, "refused") {
			t.Errorf("%s: ack %+v, want refused", id, a)
		}
	}
	if a := got["double-slash"]; a.Status != http.StatusCreated {
		t.Errorf("double-slash: ack %+v", a)
	}
	close(app.hits)
	for s := range app.hits {
		if s.path != "/hooks//evil.example/x" {
			t.Errorf("app got %s", s.path)
		}
		if strings.Contains(s.path, "admin") || s.header.Get("X-Injected") != "" {
			t.Errorf("hostile request reached the app: %+v", s)
		}
	}
}

// TestReconnectLoopIsAnError: a relay that welcomes the agent and then
// drops it at once, again and again, is a loop that gets nothing through.
// The agent says so at the default log level (warnings and errors), once,
// instead of reconnecting silently forever.
func TestReconnectLoopIsAnError(t *testing.T) {
	relay, conns := fakeRelay(t, func(n int32, ws *websocket.Conn) {
		send(ws, &wire.Welcome{Channel: "dev", URL: "http://x/h/dev", AgentID: "a"})
		ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseMessageTooBig, "read limit exceeded"), time.Now().Add(time.Second))
	})
	store, err := store.Open(t.Context(), filepath.Join(t.TempDir(), "a.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	fwd, _ := forward.New("http://127.0.0.1:1", time.Second)
	var logs testenv.Log
	log := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelWarn}))
	agent, err := agent.New(agent.Config{Relay: relay.URL, Channel: "dev", Store: store, Forwarder: fwd, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- agent.Run(ctx) }()
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(logs.String(), "level=ERROR") && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond) // polling a log file: no signal to wait on
	}
	cancel()
	<-done
	out := logs.String()
	if !strings.Contains(out, "level=ERROR") || !strings.Contains(out, "read limit exceeded") {
		t.Fatalf("after %d connections, no error in the log:\n%s", conns.Load(), out)
	}
	if n := strings.Count(out, "level=ERROR"); n != 1 {
		t.Errorf("%d error lines, want 1 (once a minute at most):\n%s", n, out)
	}
}
