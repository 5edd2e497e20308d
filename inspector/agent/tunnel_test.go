package agent_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hooktap/hooktap/inspector/agent"
	"github.com/hooktap/hooktap/inspector/forward"
	"github.com/hooktap/hooktap/inspector/live"
	"github.com/hooktap/hooktap/inspector/signing"
	"github.com/hooktap/hooktap/inspector/store"
	"github.com/hooktap/hooktap/relay"
)

// seen is one request as the test app received it.
type seen struct {
	method, path, query string
	header              http.Header
	body                []byte
}

// app is a test app on loopback that records what it receives and answers
// with handler (201 {"ok":true} by default).
type app struct {
	*httptest.Server
	mu   sync.Mutex
	got  []seen
	hits chan seen
}

func newApp(t testing.TB, handler http.HandlerFunc) *app {
	a := &app{hits: make(chan seen, 1024)}
	a.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		s := seen{r.Method, r.URL.EscapedPath(), r.URL.RawQuery, r.Header.Clone(), b}
		a.mu.Lock()
		a.got = append(a.got, s)
		a.mu.Unlock()
		a.hits <- s
		if handler != nil {
			handler(w, r)
			return
		}
		w.Header().Set("X-App", "yes")
		w.WriteHeader(http.StatusCreated)
		w.Write([]byte(`{"ok":true}`))
	}))
	t.Cleanup(a.Close)
	return a
}

type tunnel struct {
	relay   *httptest.Server
	store   *store.Store
	ingress string
	events  <-chan live.Event
}

// startTunnel runs a relay and an agent forwarding to target with the given
// forward timeout, and waits until the agent is connected.
func startTunnel(t testing.TB, target string, timeout time.Duration) *tunnel {
	t.Helper()
	return startTunnelWith(t, relay.Config{}, target, timeout)
}

// startTunnelWith is startTunnel with the relay's configuration.
func startTunnelWith(t testing.TB, cfg relay.Config, target string, timeout time.Duration) *tunnel {
	t.Helper()
	cfg.DataDir = t.TempDir()
	srv, err := relay.New(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	rs := httptest.NewServer(srv.Handler())
	st, err := store.Open(t.Context(), filepath.Join(t.TempDir(), "agent.db"))
	if err != nil {
		t.Fatal(err)
	}
	fwd, err := forward.New(target, timeout)
	if err != nil {
		t.Fatal(err)
	}
	bus := live.NewBus()
	events, unsub := bus.Subscribe(1024)
	ag, err := agent.New(agent.Config{
		Relay: rs.URL, Channel: "dev", Store: st, Forwarder: fwd, Bus: bus,
	})
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
		rs.CloseClientConnections()
		rs.Close()
		srv.Close()
		st.Close()
	})
	tn := &tunnel{relay: rs, store: st, events: events}
	for tn.ingress == "" {
		select {
		case ev := <-events:
			if ev.Kind == live.EventRelay && ev.Relay.State == live.StateConnected {
				tn.ingress = ev.Relay.URL
			}
		case <-time.After(10 * time.Second):
			t.Fatal("agent did not connect")
		}
	}
	return tn
}

// noRedirects is a sender that, like webhook providers, does not follow
// redirects.
var noRedirects = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

func do(t *testing.T, method, url string, body []byte, header http.Header) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := noRedirects.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, b
}

func TestTunnelEndToEnd(t *testing.T) {
	ap := newApp(t, nil)
	tn := startTunnel(t, ap.URL+"/webhooks", 0)
	if tn.ingress != tn.relay.URL+"/h/dev" {
		t.Fatalf("ingress %q", tn.ingress)
	}

	monite := []byte(`{"id":"evt_1","created_at":"2026-11-22T10:00:00.000000Z","action":"payable.created","api_version":"2024-05-25",` +
		`"entity_id":"ent_9","object":{"id":"pay_7"},"object_type":"payable","webhook_subscription_id":"sub_1"}`)
	cases := []struct {
		name, method, suffix string
		body                 []byte
		header               http.Header
	}{
		{"monite json", "POST", "/billing?x=1&y=%20z", monite, http.Header{"Content-Type": {"application/json"}, "Monite-Signature": {"t=1,v1=ab"}}},
		{"whitespace and big ints kept", "POST", "", []byte("{ \"n\" : 12345678901234567890123,\n \"n\": 1 }\n"), http.Header{"Content-Type": {"application/json"}}},
		{"form body", "POST", "/form", []byte("a=1&b=%26"), http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}},
		{"binary", "PUT", "/bin", []byte{0, 0xff, 0xfe, '\n', 0}, http.Header{"Content-Type": {"application/octet-stream"}}},
		{"empty", "DELETE", "/x/y", nil, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			hdr := http.Header{"X-Custom": {"kept"}}
			for k, v := range c.header {
				hdr[k] = v
			}
			resp, body := do(t, c.method, tn.ingress+c.suffix, c.body, hdr)
			if resp.StatusCode != http.StatusCreated || string(body) != `{"ok":true}` || resp.Header.Get("X-App") != "yes" {
				t.Fatalf("sender got %d %v %q", resp.StatusCode, resp.Header, body)
			}
			id := resp.Header.Get(relay.HeaderDelivery)
			got := <-ap.hits
			wantPath, wantQuery, _ := strings.Cut(c.suffix, "?")
			if got.method != c.method || got.path != "/webhooks"+wantPath || got.query != wantQuery {
				t.Errorf("app got %s %s ? %s", got.method, got.path, got.query)
			}
			if !bytes.Equal(got.body, c.body) {
				t.Errorf("app got body %q, want %q", got.body, c.body)
			}
			if got.header.Get("X-Custom") != "kept" || got.header.Get("X-Forwarded-For") != "127.0.0.1" ||
				got.header.Get("X-Forwarded-Proto") != "http" || got.header.Get("X-Forwarded-Host") == "" {
				t.Errorf("app got headers %v", got.header)
			}
			for k, v := range c.header {
				if got.header.Get(k) != v[0] {
					t.Errorf("header %s = %q, want %q", k, got.header.Get(k), v[0])
				}
			}
			d, err := tn.store.Get(t.Context(), id)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(d.Body, c.body) || d.Method != c.method || d.Attempts != 1 || d.Status != 201 || len(d.History) != 1 {
				t.Errorf("stored %+v", d)
			}
			if h := d.History[0]; string(h.Body) != `{"ok":true}` || h.Kind != store.KindForward {
				t.Errorf("stored attempt %+v", h)
			}
		})
	}
	d, _ := tn.store.List(t.Context(), store.Query{Action: "payable.*"})
	if len(d) != 1 || d[0].ObjectType != "payable" || d[0].EntityID != "ent_9" || d[0].ObjectID != "pay_7" || d[0].EventID != "evt_1" ||
		d[0].Signature != signing.NoSecret {
		t.Fatalf("fields: %+v", d)
	}
}

func TestTunnelAppDown(t *testing.T) {
	ap := newApp(t, nil)
	target := ap.URL
	ap.Close() // nothing listens there now
	tn := startTunnel(t, target, 0)
	resp, body := do(t, "POST", tn.ingress, []byte(`{"action":"tag.created"}`), nil)
	if resp.StatusCode != http.StatusBadGateway || !strings.Contains(string(body), "connection refused") {
		t.Fatalf("sender got %d %q", resp.StatusCode, body)
	}
	ds, err := tn.store.List(t.Context(), store.Query{Status: mustStatus("error")})
	if err != nil || len(ds) != 1 || !strings.Contains(ds[0].Error, "connection refused") || ds[0].Attempts != 1 {
		t.Fatalf("stored %+v %v", ds, err)
	}
}

// An app that does not answer in time gets its sender a 504 "timed out",
// as the README says: when the agent's own timeout is the shorter, and
// when the relay's --response-timeout is (then the agent gives the app that
// long; a new user saw the relay's 202 "kept and delivered" after 10 s
// with a 12 s app, for a delivery the agent then acked as timed out).
func TestTunnelAppSlow(t *testing.T) {
	for _, tc := range []struct {
		name         string
		relayTimeout time.Duration
		agentTimeout time.Duration
	}{
		{"agent's timeout", 0, 200 * time.Millisecond},
		{"relay's timeout", 2 * time.Second, 0}, // the agent's own: 10 s
	} {
		t.Run(tc.name, func(t *testing.T) {
			release := make(chan struct{})
			ap := newApp(t, func(w http.ResponseWriter, r *http.Request) {
				select {
				case <-release:
				case <-r.Context().Done():
				}
			})
			defer close(release)
			tn := startTunnelWith(t, relay.Config{ResponseTimeout: tc.relayTimeout}, ap.URL, tc.agentTimeout)
			resp, body := do(t, "POST", tn.ingress, []byte(`{}`), nil)
			if resp.StatusCode != http.StatusGatewayTimeout || !strings.Contains(string(body), "timed out") {
				t.Fatalf("sender got %d %q, want 504 timed out", resp.StatusCode, body)
			}
			ds, _ := tn.store.List(t.Context(), store.Query{})
			if len(ds) != 1 || ds[0].Status != 0 || !strings.Contains(ds[0].Error, "timed out") {
				t.Fatalf("stored %+v", ds)
			}
		})
	}
}

func TestTunnelRedirectNotFollowed(t *testing.T) {
	other := newApp(t, nil)
	ap := newApp(t, func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, other.URL+"/elsewhere", http.StatusFound)
	})
	tn := startTunnel(t, ap.URL, 0)
	resp, _ := do(t, "POST", tn.ingress, []byte(`{}`), nil)
	if resp.StatusCode != http.StatusFound {
		t.Fatalf("sender got %d, want the app's 302", resp.StatusCode)
	}
	select {
	case s := <-other.hits:
		t.Fatalf("redirect was followed to %s", s.path)
	default:
	}
}

// mustStatus is a status filter a test spells out.
func mustStatus(s string) store.Status {
	st, err := store.ParseStatus(s)
	if err != nil {
		panic(err)
	}
	return st
}
