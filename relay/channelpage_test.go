package relay

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/hooktap/hooktap/relay/page"
	"github.com/hooktap/hooktap/relay/wire"
)

// sse reads server-sent events.
type sse struct{ r *bufio.Reader }

func (s sse) next(t *testing.T) (string, string) {
	t.Helper()
	var event, data string
	for {
		line, err := s.r.ReadString('\n')
		if err != nil {
			t.Fatalf("event stream: %v", err)
		}
		line = strings.TrimSuffix(line, "\n")
		switch {
		case line == "" && event != "":
			return event, data
		case strings.HasPrefix(line, "event: "):
			event = line[len("event: "):]
		case strings.HasPrefix(line, "data: "):
			data = line[len("data: "):]
		}
	}
}

func TestChannelPage(t *testing.T) {
	srv, ts := newRelay(t, Config{AdminToken: testAdmin})
	tok, _ := srv.team.registry.Create(t.Context(), "ops", false)
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	get := func(path string, h http.Header) *http.Response {
		t.Helper()
		req, _ := http.NewRequest("GET", ts.URL+path, nil)
		for k, v := range h {
			req.Header[k] = v
		}
		resp, err := noRedirect.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { resp.Body.Close() })
		return resp
	}
	for path, want := range map[string]int{
		"/c/ops": 401, "/c/ops?token=htk_wrong": 401, "/c/ops/feed.json": 401, "/c/ops/events": 401,
		"/c/nope?token=" + tok: 404, "/c/..%2f": 404,
	} {
		if resp := get(path, nil); resp.StatusCode != want {
			t.Errorf("%s: %d, want %d", path, resp.StatusCode, want)
		}
	}
	// ?token= becomes an HttpOnly cookie scoped to the page and a redirect
	// to the clean URL.
	resp := get("/c/ops?token="+tok, nil)
	cookies := resp.Cookies()
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/c/ops" || len(cookies) != 1 ||
		!cookies[0].HttpOnly || cookies[0].Path != "/c/ops" || cookies[0].SameSite != http.SameSiteStrictMode {
		t.Fatalf("token in URL: %d %q %+v", resp.StatusCode, resp.Header.Get("Location"), cookies)
	}
	cookie := http.Header{"Cookie": {cookies[0].Name + "=" + cookies[0].Value}}
	resp = get("/c/ops", cookie)
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || !strings.Contains(string(body), `src="/c/ops/app.js"`) ||
		!strings.Contains(resp.Header.Get("Content-Security-Policy"), "script-src 'self'") {
		t.Fatalf("page: %d %s", resp.StatusCode, body)
	}
	if resp := get("/c/ops/app.js", cookie); resp.StatusCode != 200 || !strings.Contains(resp.Header.Get("Content-Type"), "javascript") {
		t.Errorf("app.js: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	if resp := get("/c/ops/secret.txt", cookie); resp.StatusCode != 404 {
		t.Errorf("other asset: %d", resp.StatusCode)
	}

	// The live stream: a snapshot, then each delivery with its event and
	// the answer's status, and the agents as they come.
	stream := get("/c/ops/events", http.Header{"Authorization": {"Bearer " + tok}})
	if stream.StatusCode != 200 || stream.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("events: %d", stream.StatusCode)
	}
	ev := sse{bufio.NewReader(stream.Body)}
	if name, data := ev.next(t); name != "snapshot" || !strings.Contains(data, `"items":[]`) {
		t.Fatalf("first event %s %s", name, data)
	}
	post(t, ts.URL+"/h/ops/billing?secret=1", []byte(`{"action":"payable.created","object_type":"payable"}`))
	name, data := ev.next(t)
	var it page.Item
	if name != "delivery" || json.Unmarshal([]byte(data), &it) != nil || it.Action != "payable.created" || it.Status != 202 ||
		it.Path != "/billing" || it.Method != "POST" || it.ID == "" {
		t.Fatalf("delivery event %s %s", name, data)
	}
	a := dialAgent(t, ts)
	a.send(&wire.Hello{Channel: "ops", Token: tok, AgentID: "agt_page", AgentKey: testKey("agt_page"), Events: []string{"payable.*"}})
	a.read()
	// The page shows each agent's filter and a label, never its id.
	if name, data := ev.next(t); name != "agents" || !strings.Contains(data, `"id":"`+agentLabel("agt_page")+`"`) ||
		strings.Contains(data, "agt_page") || !strings.Contains(data, `"payable.*"`) {
		t.Fatalf("agents event %s %s", name, data)
	}
	// The admin token opens every page; the snapshot has what happened.
	resp = get("/c/ops/feed.json", http.Header{"Authorization": {"Bearer " + testAdmin}})
	var snap page.Snapshot
	if err := json.NewDecoder(resp.Body).Decode(&snap); err != nil || len(snap.Items) != 1 || snap.Items[0].ID != it.ID || len(snap.Agents) != 1 {
		t.Fatalf("feed.json: %v %+v", err, snap)
	}
}

func TestChannelPageOpenModeAndShutdown(t *testing.T) {
	srv, err := New(t.Context(), Config{DataDir: t.TempDir(), ResponseTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ctx, ln) }()
	resp, err := http.Get("http://" + ln.Addr().String() + "/c/anything/events")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("open mode page: %v %v", err, resp)
	}
	defer resp.Body.Close()
	if name, _ := (sse{bufio.NewReader(resp.Body)}).next(t); name != "snapshot" {
		t.Fatalf("first event %s", name)
	}
	// A page left open does not hold up a graceful shutdown.
	start := time.Now()
	cancel()
	select {
	case <-served:
		if took := time.Since(start); took > 3*time.Second {
			t.Errorf("shutdown took %v", took)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Serve did not return")
	}
}
