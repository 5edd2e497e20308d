package relay

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hooktap/hooktap/relay/page"
	"github.com/hooktap/hooktap/relay/wire"
)

const testAdmin = "admin-token-for-tests-0123456789"

func api(t *testing.T, method, url, token, body string) (int, []byte) {
	t.Helper()
	req, _ := http.NewRequest(method, url, strings.NewReader(body))
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

func TestAdminAPI(t *testing.T) {
	_, open := newRelay(t, Config{})
	if code, _ := api(t, "GET", open.URL+"/api/channels", testAdmin, ""); code != http.StatusNotFound {
		t.Errorf("open mode: %d", code)
	}
	if _, err := New(t.Context(), Config{DataDir: t.TempDir(), AdminToken: "short"}); err == nil {
		t.Error("a short admin token was accepted")
	}

	dir := t.TempDir()
	srv, err := New(t.Context(), Config{DataDir: dir, AdminToken: testAdmin})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv.Handler())
	base := ts.URL + "/api/channels"
	for _, c := range []struct {
		method, url, token, body string
		want                     int
	}{
		{"GET", base, "", "", 401},
		{"GET", base, testAdmin + "x", "", 401},
		{"POST", base, "", `{"name":"billing"}`, 401},
		{"POST", base, testAdmin, `{"name":"bad name"}`, 400},
		{"POST", base, testAdmin, `not json`, 400},
		{"POST", base, testAdmin, `{"name":"billing"}`, 201},
		{"POST", base, testAdmin, `{"name":"billing"}`, 409},
		{"GET", base + "/billing", testAdmin, "", 200},
		{"GET", base + "/nope", testAdmin, "", 404},
		{"DELETE", base + "/nope", testAdmin, "", 404},
		{"POST", base + "/nope/rotate-token", testAdmin, "", 404},
		{"PUT", base, testAdmin, "", 405},
	} {
		if code, b := api(t, c.method, c.url, c.token, c.body); code != c.want {
			t.Errorf("%s %s: %d %s, want %d", c.method, c.url, code, b, c.want)
		}
	}
	code, b := api(t, "POST", base, testAdmin, `{"name":"ops"}`)
	var ct ChannelToken
	if code != 201 || json.Unmarshal(b, &ct) != nil || ct.URL != ts.URL+"/h/ops" || ct.Token == "" {
		t.Fatalf("create: %d %s", code, b)
	}
	code, b = api(t, "GET", base, testAdmin, "")
	var list []ChannelStatus
	if code != 200 || json.Unmarshal(b, &list) != nil || len(list) != 2 || list[0].Name != "billing" || list[1].Name != "ops" {
		t.Fatalf("list: %d %s", code, b)
	}
	if strings.Contains(string(b), ct.Token) {
		t.Fatal("list shows a token")
	}
	if code, _ := api(t, "DELETE", base+"/billing", testAdmin, ""); code != 204 {
		t.Fatalf("delete: %d", code)
	}
	ts.Close()
	srv.Close()

	// The registry survives a restart, holding only the hash.
	raw, _ := os.ReadFile(filepath.Join(dir, "relay.db"))
	wal, _ := os.ReadFile(filepath.Join(dir, "relay.db-wal"))
	if strings.Contains(string(raw)+string(wal), ct.Token) {
		t.Fatal("the token is stored in clear")
	}
	srv, err = New(t.Context(), Config{DataDir: dir, AdminToken: testAdmin})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	if srv.ops.registry.Check("ops", ct.Token) != nil || srv.ops.registry.Check("ops", ct.Token+"x") == nil || srv.ops.registry.Exists("billing") {
		t.Fatal("registry after restart")
	}
}

func TestAgentTokens(t *testing.T) {
	srv, ts := newRelay(t, Config{AdminToken: testAdmin})
	tok, err := srv.ops.registry.Create(t.Context(), "ops", false)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ channel, token, code string }{
		{"ops", "", wire.CodeUnauthorized},
		{"ops", "htk_wrong", wire.CodeUnauthorized},
		{"ops", tok[:len(tok)-1], wire.CodeUnauthorized},
		{"nope", tok, wire.CodeUnknownChannel},
	} {
		a := dialAgent(t, ts)
		a.send(&wire.Hello{Channel: c.channel, Token: c.token, AgentID: "agt_1", AgentKey: testKey("agt_1")})
		e, ok := a.read().(*wire.Error)
		if !ok || e.Code != c.code {
			t.Errorf("%s with %q: %+v, want %s", c.channel, c.token, e, c.code)
		}
	}
	a := dialAgent(t, ts)
	a.send(&wire.Hello{Channel: "ops", Token: tok, AgentID: "agt_1", AgentKey: testKey("agt_1")})
	if _, ok := a.read().(*wire.Welcome); !ok {
		t.Fatal("right token: no welcome")
	}
	// Rotation tells the connected agent, with a refusal it will not retry.
	if _, err := srv.ops.registry.Rotate(t.Context(), "ops"); err != nil {
		t.Fatal(err)
	}
	srv.disconnect("ops", wire.CodeUnauthorized, "rotated")
	if e, ok := a.read().(*wire.Error); !ok || e.Code != wire.CodeUnauthorized {
		t.Fatalf("after rotation: %+v", e)
	}
}

func TestUnknownChannelIs404InTeamMode(t *testing.T) {
	srv, ts := newRelay(t, Config{AdminToken: testAdmin})
	if resp, b := post(t, ts.URL+"/h/nope/x", []byte(`{}`)); resp.StatusCode != 404 {
		t.Fatalf("unknown: %d %s", resp.StatusCode, b)
	}
	srv.ops.registry.Create(t.Context(), "ops", false)
	if resp, b := post(t, ts.URL+"/h/ops/x", []byte(`{}`)); resp.StatusCode != 202 {
		t.Fatalf("known: %d %s", resp.StatusCode, b)
	}
	if d, _ := srv.buf.Depth(t.Context()); d["nope"] != 0 || d["ops"] != 1 {
		t.Fatalf("buffer %v", d)
	}
}

func TestParseRate(t *testing.T) {
	for in, want := range map[string]float64{"": 0, "50/s": 50, "50": 50, "600/m": 10, "7200/h": 2, " 5 / s ": 5} {
		if got, err := ParseRate(in); err != nil || got != want {
			t.Errorf("%q: %v %v, want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"x", "-1/s", "5/d", "NaN", "/s"} {
		if _, err := ParseRate(in); err == nil {
			t.Errorf("%q accepted", in)
		}
	}
}

func TestRateLimitRefills(t *testing.T) {
	l := newRateLimits(2, 2) // 2 per second, bursts of 2
	now := time.Unix(1000, 0)
	for i := range 2 {
		if _, ok := l.allow("a", now); !ok {
			t.Fatalf("burst %d refused", i)
		}
	}
	wait, ok := l.allow("a", now)
	if ok || wait != 500*time.Millisecond || retryAfter(wait) != "1" {
		t.Fatalf("third: %v %v", ok, wait)
	}
	if _, ok := l.allow("b", now); !ok {
		t.Fatal("channel b shares a's bucket")
	}
	if _, ok := l.allow("a", now.Add(500*time.Millisecond)); !ok {
		t.Fatal("no refill after 500ms")
	}
	if _, ok := l.allow("a", now.Add(600*time.Millisecond)); ok {
		t.Fatal("refilled too much")
	}
	if newRateLimits(0, 0) != nil {
		t.Fatal("rate 0 limits")
	}
}

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
	tok, _ := srv.ops.registry.Create(t.Context(), "ops", false)
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
