package provider_test

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hooktap/hooktap/inspector/provider"
)

// The tests talk to the emulator as a developer's own Monite client would:
// plain net/http and JSON, none of hooktap's code. The apps that receive
// deliveries check signatures with their own HMAC code.

// clock is a settable clock for the emulator.
type clock struct{ ns atomic.Int64 }

func newClock() *clock {
	c := &clock{}
	c.ns.Store(time.Now().UnixNano())
	return c
}
func (c *clock) now() time.Time          { return time.Unix(0, c.ns.Load()) }
func (c *clock) advance(d time.Duration) { c.ns.Add(int64(d)) }

// emulator is a running provider behind a real HTTP server.
type emulator struct {
	URL string
	p   *provider.Provider
}

func startEmulator(t *testing.T, cfg provider.Config) *emulator {
	t.Helper()
	if cfg.DataDir == "" {
		cfg.DataDir = t.TempDir()
	}
	p, err := provider.Open(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(p.Handler())
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		<-done
		srv.Close()
		p.Close()
	})
	return &emulator{URL: srv.URL + "/v1", p: p}
}

// monite is the test's Monite client.
type monite struct {
	t       *testing.T
	base    string
	token   string
	version string
}

func client(t *testing.T, base string) *monite {
	return &monite{t: t, base: base, token: "partner-token", version: "2024-05-25"}
}

// do sends a request and decodes the JSON answer (if any) into out; it
// returns the status code.
func (m *monite) do(method, path string, body any, out any) int {
	m.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		j, _ := json.Marshal(b)
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, m.base+path, rd)
	if err != nil {
		m.t.Fatal(err)
	}
	if m.token != "" {
		req.Header.Set("Authorization", "Bearer "+m.token)
	}
	if m.version != "" {
		req.Header.Set("x-monite-version", m.version)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		m.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusNoContent && !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		m.t.Fatalf("%s %s: %d with Content-Type %q: %s", method, path, resp.StatusCode, resp.Header.Get("Content-Type"), raw)
	}
	if out != nil && len(raw) > 0 {
		if err := json.Unmarshal(raw, out); err != nil {
			m.t.Fatalf("%s %s: %d, body not JSON: %s", method, path, resp.StatusCode, raw)
		}
	}
	return resp.StatusCode
}

// sub is a subscription as the API returns it.
type sub struct {
	ID         string   `json:"id"`
	EventTypes []string `json:"event_types"`
	ObjectType string   `json:"object_type"`
	Secret     string   `json:"secret"`
	Status     string   `json:"status"`
	URL        string   `json:"url"`
}

type subPage struct {
	Data []sub   `json:"data"`
	Next *string `json:"next_pagination_token"`
	Prev *string `json:"prev_pagination_token"`
}

type logEntry struct {
	ID                 string  `json:"id"`
	EventID            string  `json:"event_id"`
	RequestsMadeCount  int     `json:"requests_made_count"`
	Response           *string `json:"response"`
	ResponseStatusCode *int    `json:"response_status_code"`
	URL                string  `json:"url"`
	WasSuccessful      bool    `json:"was_successful"`
}

type logPage struct {
	Data []logEntry `json:"data"`
	Next *string    `json:"next_pagination_token"`
}

// apiError is both of Monite's error shapes.
type apiError struct {
	Error *struct {
		Message string `json:"message"`
	} `json:"error"`
	Detail []struct {
		Loc []any  `json:"loc"`
		Msg string `json:"msg"`
	} `json:"detail"`
}

func (m *monite) create(objectType, url string, eventTypes ...string) sub {
	m.t.Helper()
	body := map[string]any{"object_type": objectType, "url": url}
	if eventTypes != nil {
		body["event_types"] = eventTypes
	}
	var s sub
	if code := m.do("POST", "/webhook_subscriptions", body, &s); code != http.StatusCreated {
		m.t.Fatalf("create: %d %+v", code, s)
	}
	return s
}

// emit asks the emulator for an event (hooktap's extension).
func (m *monite) emit(action string) (eventID string, deliveries int) {
	m.t.Helper()
	var out struct {
		Event      struct{ ID string }
		Deliveries []struct{ ID string }
	}
	if code := m.do("POST", "/_emulator/events", map[string]any{"action": action}, &out); code != http.StatusCreated {
		m.t.Fatalf("emit %s: %d", action, code)
	}
	return out.Event.ID, len(out.Deliveries)
}

func (m *monite) log(query string) []logEntry {
	m.t.Helper()
	var p logPage
	if code := m.do("GET", "/webhook_deliveries"+query, nil, &p); code != 200 {
		m.t.Fatalf("delivery log: %d", code)
	}
	return p.Data
}

// app is the developer's webhook endpoint: it verifies Monite-Signature
// with its own code and answers from a script of status codes.
type app struct {
	*httptest.Server
	mu       sync.Mutex
	secret   string
	script   []int
	received []received
	arrived  chan received
}

type received struct {
	body      []byte
	timestamp int64
	valid     bool // against the app's secret at the time
	header    http.Header
}

func newApp(t *testing.T, script ...int) *app {
	a := &app{script: script, arrived: make(chan received, 64)}
	a.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		a.mu.Lock()
		ts, ok := verifyMonite(r.Header.Get("Monite-Signature"), body, a.secret)
		rec := received{body: body, timestamp: ts, valid: ok, header: r.Header.Clone()}
		a.received = append(a.received, rec)
		status := 200
		if len(a.script) > 0 {
			status, a.script = a.script[0], a.script[1:]
		}
		a.mu.Unlock()
		w.WriteHeader(status)
		fmt.Fprintf(w, `{"status":%d}`, status)
		a.arrived <- rec
	}))
	t.Cleanup(a.Close)
	return a
}

func (a *app) setSecret(s string) {
	a.mu.Lock()
	a.secret = s
	a.mu.Unlock()
}

func (a *app) count() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.received)
}

// next waits for the next delivery to arrive.
func (a *app) next(t *testing.T) received {
	t.Helper()
	select {
	case r := <-a.arrived:
		return r
	case <-time.After(15 * time.Second):
		t.Fatal("no delivery arrived within 15s")
	}
	return received{}
}

// verifyMonite is the app's check: t=<unix>,v1=<hex HMAC-SHA256(secret,
// "t.body")>. It returns the signed timestamp and whether it matches.
func verifyMonite(header string, body []byte, secret string) (int64, bool) {
	var ts int64
	var sigs []string
	for _, part := range strings.Split(header, ",") {
		k, v, _ := strings.Cut(part, "=")
		switch k {
		case "t":
			ts, _ = strconv.ParseInt(v, 10, 64)
		case "v1":
			sigs = append(sigs, v)
		}
	}
	mac := hmac.New(sha256.New, []byte(secret))
	fmt.Fprintf(mac, "%d.%s", ts, body)
	want := hex.EncodeToString(mac.Sum(nil))
	for _, s := range sigs {
		if hmac.Equal([]byte(s), []byte(want)) {
			return ts, true
		}
	}
	return ts, false
}

// waitFor polls cond until it holds, for at most 15 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

func newServer(p *provider.Provider) *httptest.Server { return httptest.NewServer(p.Handler()) }
