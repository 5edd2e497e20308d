package web

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hooktap/hooktap/inspector/catalog"
	"github.com/hooktap/hooktap/inspector/live"
	"github.com/hooktap/hooktap/inspector/replay"
	"github.com/hooktap/hooktap/inspector/signing"
	"github.com/hooktap/hooktap/inspector/store"
	"github.com/hooktap/hooktap/relay/wire"
)

// fixture is a real store with a web server over it.
type fixture struct {
	t     *testing.T
	store *store.Store
	bus   *live.Bus
	web   *Server
	ts    *httptest.Server
	seq   int
	// prepare changes a delivery before it is stored (signatures, for the
	// screenshot).
	prepare func(*store.Delivery)
}

func newFixture(t *testing.T, secret string) *fixture {
	t.Helper()
	st, err := store.Open(t.Context(), filepath.Join(t.TempDir(), "hooktap.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	bus := live.NewBus()
	srv := New(Options{
		Store:  st,
		Bus:    bus,
		Sender: &replay.Sender{Store: st, Bus: bus, Secret: secret},
	})
	ts := httptest.NewServer(srv)
	t.Cleanup(ts.Close)
	return &fixture{t: t, store: st, bus: bus, web: srv, ts: ts}
}

// app is a webhook receiver that counts and keeps what it gets.
type app struct {
	*httptest.Server
	n      atomic.Int64
	mu     sync.Mutex
	bodies [][]byte
	heads  []http.Header
}

func newApp(t *testing.T, status int) *app {
	a := &app{}
	a.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		a.mu.Lock()
		a.bodies = append(a.bodies, b)
		a.heads = append(a.heads, r.Header.Clone())
		a.mu.Unlock()
		a.n.Add(1)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		fmt.Fprintf(w, `{"ok":true,"n":%d}`, a.n.Load())
	}))
	t.Cleanup(a.Close)
	return a
}

func (a *app) last() ([]byte, http.Header) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.bodies[len(a.bodies)-1], a.heads[len(a.heads)-1]
}

// add stores a delivery of action (a Monite payload), forwarded to target
// with the given status when target is not empty, and returns it.
func (f *fixture) add(action string, target string, status int) *store.Delivery {
	return f.addBody(action, nil, target, status)
}

func (f *fixture) addBody(action string, body []byte, target string, status int) *store.Delivery {
	f.t.Helper()
	f.seq++
	if body == nil {
		ev, err := catalog.Lookup(action)
		if err != nil {
			f.t.Fatal(err)
		}
		body, err = catalog.Payload(ev, catalog.Options{
			Rand:     rand.New(rand.NewPCG(uint64(f.seq), 7)),
			EntityID: "9d2b4c3e-0000-4000-8000-00000000000" + fmt.Sprint(f.seq%10),
			Now:      time.Date(2026, 11, 1, 12, 0, f.seq, 0, time.UTC),
		})
		if err != nil {
			f.t.Fatal(err)
		}
	}
	d := store.FromWire(&wire.Delivery{
		ID: fmt.Sprintf("dlv_%04d", f.seq), Channel: "dev", ReceivedAt: time.Date(2026, 11, 1, 12, 0, f.seq, 0, time.UTC),
		Method: "POST", Header: http.Header{"Content-Type": {"application/json"}, "User-Agent": {"Monite-Webhooks/1.0"}},
		Body: body, RemoteAddr: "203.0.113.7", Host: "relay.example.com", Proto: "https",
	})
	if f.prepare != nil {
		f.prepare(d)
	}
	if err := store.Wait(f.t.Context(), f.store.Insert(d)); err != nil {
		f.t.Fatal(err)
	}
	if target != "" {
		a := &store.Attempt{
			DeliveryID: d.ID, Kind: store.KindForward, Target: target, StartedAt: d.ReceivedAt,
			Duration: time.Duration(3+f.seq%5*f.seq%7*11) * time.Millisecond, Status: status, Header: http.Header{"Content-Type": {"text/plain"}},
			Body: []byte("ok"),
		}
		if status == 0 {
			a.Error = "connection refused (is the app running?)"
		}
		if err := store.Wait(f.t.Context(), f.store.AddAttempt(a)); err != nil {
			f.t.Fatal(err)
		}
		d.Attempts, d.Status = 1, status
	}
	return d
}

type resp struct {
	code int
	hdr  http.Header
	body []byte
}

func (r resp) json(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("decode %s: %v", r.body, err)
	}
}

func (r resp) errorMessage(t *testing.T) string {
	t.Helper()
	if ct := r.hdr.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Fatalf("error answered as %q, not JSON: %s", ct, r.body)
	}
	var e apiError
	r.json(t, &e)
	if e.Error == "" {
		t.Fatalf("no error message in %s", r.body)
	}
	return e.Error
}

func (f *fixture) do(method, path string, body any, hdr map[string]string) resp {
	f.t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(f.t.Context(), method, f.ts.URL+path, rd)
	if err != nil {
		f.t.Fatal(err)
	}
	for k, v := range hdr {
		if k == "Host" {
			req.Host = v
			continue
		}
		req.Header.Set(k, v)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		f.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return resp{res.StatusCode, res.Header, b}
}

func (f *fixture) get(path string) resp { return f.do("GET", path, nil, nil) }

// post writes as the page does: token and same origin.
func (f *fixture) post(path string, body any) resp {
	return f.do("POST", path, body, map[string]string{"X-Hooktap-Token": f.web.Token(), "Origin": f.ts.URL})
}

func TestList(t *testing.T) {
	f := newFixture(t, "")
	f.add("payable.created", "http://127.0.0.1:1/hook", 200)
	f.add("counterpart.created", "http://127.0.0.1:1/hook", 500)
	f.add("payable.paid", "http://127.0.0.1:1/hook", 200)
	f.add("payable.updated", "", 0)
	f.add("receipt.created", "http://127.0.0.1:1/hook", 404)

	var all listResponse
	r := f.get("/api/deliveries")
	if r.code != 200 {
		t.Fatalf("list: %d %s", r.code, r.body)
	}
	r.json(t, &all)
	var ids []string
	for _, d := range all.Deliveries {
		ids = append(ids, d.ID)
	}
	if got := strings.Join(ids, ","); got != "dlv_0005,dlv_0004,dlv_0003,dlv_0002,dlv_0001" {
		t.Errorf("order: %s", got)
	}
	if all.NextBefore != 0 {
		t.Errorf("one page holds everything, next_before = %d", all.NextBefore)
	}
	if d := all.Deliveries[3]; d.Action != "counterpart.created" || d.Status != 500 || d.Attempts != 1 || d.Seq == 0 {
		t.Errorf("summary: %+v", d.Delivery)
	}

	t.Run("paging", func(t *testing.T) {
		var seen []string
		path := "/api/deliveries?limit=2"
		for range 5 {
			var page listResponse
			f.get(path).json(t, &page)
			for _, d := range page.Deliveries {
				seen = append(seen, d.ID)
			}
			if page.NextBefore == 0 {
				break
			}
			path = fmt.Sprintf("/api/deliveries?limit=2&before=%d", page.NextBefore)
		}
		if got := strings.Join(seen, ","); got != "dlv_0005,dlv_0004,dlv_0003,dlv_0002,dlv_0001" {
			t.Errorf("pages: %s", got)
		}
	})

	filters := []struct {
		q    string
		want string
	}{
		{"type:payable", "dlv_0004,dlv_0003,dlv_0001"},
		{"action:payable.* status:2xx", "dlv_0003,dlv_0001"},
		{"status:5xx", "dlv_0002"},
		{"status:pending", "dlv_0004"},
		{"status:404", "dlv_0005"},
	}
	for _, tc := range filters {
		t.Run(tc.q, func(t *testing.T) {
			var page listResponse
			r := f.get("/api/deliveries?q=" + strings.ReplaceAll(tc.q, " ", "+"))
			if r.code != 200 {
				t.Fatalf("%d %s", r.code, r.body)
			}
			r.json(t, &page)
			var ids []string
			for _, d := range page.Deliveries {
				ids = append(ids, d.ID)
			}
			if got := strings.Join(ids, ","); got != tc.want {
				t.Errorf("got %s, want %s", got, tc.want)
			}
		})
	}

	// A mistyped key is searched as text; the answer says what was meant.
	var hinted listResponse
	f.get("/api/deliveries?q=stauts:5xx").json(t, &hinted)
	if len(hinted.Deliveries) != 0 || !strings.Contains(hinted.Hint, "did you mean status:5xx?") {
		t.Errorf("stauts:5xx: %d deliveries, hint %q", len(hinted.Deliveries), hinted.Hint)
	}

	bad := []struct{ path, want string }{
		{"/api/deliveries?q=status:abc", "bad status"},
		{"/api/deliveries?q=since:yesterdayish", "bad since"},
		{"/api/deliveries?limit=x", "bad limit"},
		{"/api/deliveries?before=-3", "bad before"},
	}
	for _, tc := range bad {
		r := f.get(tc.path)
		if r.code != http.StatusBadRequest {
			t.Errorf("%s: status %d, want 400", tc.path, r.code)
		}
		if msg := r.errorMessage(t); !strings.Contains(msg, tc.want) {
			t.Errorf("%s: error %q, want %q", tc.path, msg, tc.want)
		}
	}
}

func TestShow(t *testing.T) {
	f := newFixture(t, "")
	d := f.add("payable.created", "http://127.0.0.1:1/hook", 200)
	bin := f.addBody("payable.created", []byte{0xff, 0x00, 0xfe}, "", 0)

	var got store.Record // the one shape of a delivery in full (store's TestRecordShape pins it)
	r := f.get("/api/deliveries/" + d.ID)
	if r.code != 200 {
		t.Fatalf("show: %d %s", r.code, r.body)
	}
	r.json(t, &got)
	if got.BodyEncoding != "text" || !strings.Contains(deref(got.Body), `"action":"payable.created"`) || got.BodySize != len(d.Body) {
		t.Errorf("body: %q (%s, %d)", deref(got.Body), got.BodyEncoding, got.BodySize)
	}
	if got.Headers.Get("Content-Type") != "application/json" || got.Action != "payable.created" {
		t.Errorf("headers %v, action %q", got.Headers, got.Action)
	}
	if len(got.History) != 1 || got.History[0].Status != 200 || deref(got.History[0].Response.Body) != "ok" || got.History[0].DurationMS <= 0 {
		t.Errorf("history: %+v", got.History)
	}

	// A prefix works as on the command line, when it is unique.
	if r := f.get("/api/deliveries/dlv_"); r.code != 400 || !strings.Contains(r.errorMessage(t), "ambiguous") {
		t.Errorf("ambiguous prefix: %d %s", r.code, r.body)
	}

	f.get("/api/deliveries/"+bin.ID).json(t, &got)
	if got.BodyEncoding != "base64" || deref(got.Body) != "/wD+" {
		t.Errorf("binary body: %q (%s)", deref(got.Body), got.BodyEncoding)
	}

	r = f.get("/api/deliveries/dlv_nope")
	if r.code != 404 || !strings.Contains(r.errorMessage(t), "no such delivery") {
		t.Errorf("unknown id: %d %s", r.code, r.body)
	}
	if r := f.get("/api/nothing"); r.code != 404 {
		t.Errorf("unknown endpoint: %d", r.code)
	} else {
		r.errorMessage(t)
	}

	// The downloadable form is the export record, which import reads back.
	r = f.get("/api/deliveries/" + d.ID + "?download=1")
	if !strings.Contains(r.hdr.Get("Content-Disposition"), "attachment") {
		t.Errorf("download: %v", r.hdr)
	}
	n := 0
	if err := store.ReadRecords(bytes.NewReader(r.body), func(x *store.Delivery) error {
		n++
		if x.ID != d.ID || !bytes.Equal(x.Body, d.Body) || len(x.History) != 1 {
			t.Errorf("record: %+v", x)
		}
		return nil
	}); err != nil || n != 1 {
		t.Errorf("read record: %v (%d)", err, n)
	}
}

func TestReplay(t *testing.T) {
	f := newFixture(t, "")
	a := newApp(t, 201)
	d := f.add("payable.created", a.URL+"/webhooks", 200)

	r := f.post("/api/deliveries/"+d.ID+"/replay", nil)
	if r.code != 200 {
		t.Fatalf("replay: %d %s", r.code, r.body)
	}
	var res sendResponse
	r.json(t, &res)
	if res.Attempt.Kind != "replay" || res.Attempt.Status != 201 || res.Attempt.Target != a.URL+"/webhooks" ||
		!strings.Contains(deref(res.Attempt.Response.Body), `"ok":true`) {
		t.Errorf("attempt: %+v", res.Attempt)
	}
	if res.Delivery.Attempts != 2 || res.Delivery.Status != 201 {
		t.Errorf("delivery: %+v", res.Delivery.Delivery)
	}
	if a.n.Load() != 1 {
		t.Fatalf("the app got %d requests", a.n.Load())
	}
	if body, _ := a.last(); !bytes.Equal(body, d.Body) {
		t.Errorf("the app got %q, want the stored bytes", body)
	}

	// Elsewhere, with the path kept.
	b := newApp(t, 200)
	if r := f.post("/api/deliveries/"+d.ID+"/replay", map[string]string{"to": b.URL + "/other"}); r.code != 200 || b.n.Load() != 1 {
		t.Errorf("replay to: %d %s (app got %d)", r.code, r.body, b.n.Load())
	}

	// An app that is away is an attempt, not an API error.
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	gone := "http://" + ln.Addr().String()
	ln.Close()
	r = f.post("/api/deliveries/"+d.ID+"/replay", map[string]string{"to": gone})
	r.json(t, &res)
	if r.code != 200 || res.Attempt.Status != 0 || !strings.Contains(res.Attempt.Error, "refused") {
		t.Errorf("unreachable app: %d %s", r.code, r.body)
	}
	var full store.Record
	f.get("/api/deliveries/"+d.ID).json(t, &full)
	if len(full.History) != 4 {
		t.Errorf("history has %d attempts, want 4", len(full.History))
	}

	errs := []struct {
		path string
		body any
		code int
		want string
	}{
		{"/api/deliveries/dlv_nope/replay", nil, 404, "no such delivery"},
		{"/api/deliveries/" + d.ID + "/replay", map[string]string{"to": "ftp://x"}, 400, "http://"},
		{"/api/deliveries/" + d.ID + "/replay", map[string]int{"to": 3}, 400, "bad request body"},
		{"/api/deliveries/" + f.add("payable.paid", "", 0).ID + "/replay", nil, 400, "never forwarded"},
	}
	for _, tc := range errs {
		r := f.post(tc.path, tc.body)
		if r.code != tc.code || !strings.Contains(r.errorMessage(t), tc.want) {
			t.Errorf("%s %v: %d %s, want %d %q", tc.path, tc.body, r.code, r.body, tc.code, tc.want)
		}
	}
}

func TestResend(t *testing.T) {
	const secret = "whsec_test_0123456789"
	f := newFixture(t, "")
	a := newApp(t, 200)
	d := f.add("payable.created", a.URL+"/webhooks", 200)

	// No secret anywhere: a delivery that arrived unsigned goes unsigned.
	r := f.post("/api/deliveries/"+d.ID+"/resend", nil)
	if _, hdr := a.last(); r.code != 200 || signing.Detect(hdr) != nil {
		t.Fatalf("resend of an unsigned delivery without secret: %d %s %v", r.code, r.body, hdr)
	}
	// A signed one needs the secret: 422 with a message that says what to do.
	f.prepare = func(d *store.Delivery) { d.Header.Set("Monite-Signature", "t=1,v1=00"); d.Verify("") }
	signed := f.add("payable.created", a.URL+"/webhooks", 200)
	f.prepare = nil
	r = f.post("/api/deliveries/"+signed.ID+"/resend", nil)
	if r.code != http.StatusUnprocessableEntity || !strings.Contains(r.errorMessage(t), "secret") {
		t.Fatalf("resend without secret: %d %s", r.code, r.body)
	}
	if a.n.Load() != 1 {
		t.Fatal("the app was called without a signature")
	}

	edited := `{"id":"x","action":"payable.created","object":{"id":"o1","amount":12345678901234567890}}`
	r = f.post("/api/deliveries/"+d.ID+"/resend", map[string]any{"secret": secret, "body": edited, "scheme": "monite"})
	if r.code != 200 {
		t.Fatalf("resend: %d %s", r.code, r.body)
	}
	if strings.Contains(string(r.body), secret) {
		t.Error("the secret was echoed")
	}
	var res sendResponse
	r.json(t, &res)
	if res.Attempt.Kind != "resend" || res.Attempt.Status != 200 || res.Attempt.Request == nil || deref(res.Attempt.Request.Body) != edited {
		t.Errorf("attempt: %+v", res.Attempt)
	}
	body, hdr := a.last()
	if string(body) != edited {
		t.Errorf("the app got %s", body)
	}
	if v := signing.Verify(hdr, body, secret, time.Now()); v.State != signing.Valid {
		t.Errorf("the app's signature check: %s (%s)", v.State, v.Reason)
	}

	// The server's own secret; set edits.
	g := newFixture(t, secret)
	d2 := g.add("payable.created", a.URL+"/webhooks", 200)
	r = g.post("/api/deliveries/"+d2.ID+"/resend", map[string]any{"set": []string{"object.status=paid"}, "new_id": true})
	if r.code != 200 {
		t.Fatalf("resend with server secret: %d %s", r.code, r.body)
	}
	body, hdr = a.last()
	if !strings.Contains(string(body), `"status":"paid"`) || signing.Verify(hdr, body, secret, time.Now()).State != signing.Valid {
		t.Errorf("set + re-sign: %s", body)
	}

	bad := []struct {
		body any
		want string
	}{
		{map[string]any{"body": "{not json"}, "not valid JSON"},
		{map[string]any{"scheme": "nope"}, "unknown signing scheme"},
		{map[string]any{"set": []string{"novalue"}}, "="},
		{map[string]any{"surprise": 1}, "unknown field"},
	}
	for _, tc := range bad {
		r := g.post("/api/deliveries/"+d2.ID+"/resend", tc.body)
		if r.code != 400 || !strings.Contains(r.errorMessage(t), tc.want) {
			t.Errorf("%v: %d %s, want 400 %q", tc.body, r.code, r.body, tc.want)
		}
	}
}

func TestWriteProtection(t *testing.T) {
	f := newFixture(t, "")
	a := newApp(t, 200)
	d := f.add("payable.created", a.URL, 200)
	path := "/api/deliveries/" + d.ID + "/replay"
	tok := f.web.Token()

	refused := []struct {
		name string
		hdr  map[string]string
	}{
		{"no token", map[string]string{"Origin": f.ts.URL}},
		{"wrong token", map[string]string{"X-Hooktap-Token": "nope", "Origin": f.ts.URL}},
		{"cross-origin", map[string]string{"X-Hooktap-Token": tok, "Origin": "http://evil.example"}},
		{"other port", map[string]string{"X-Hooktap-Token": tok, "Origin": "http://127.0.0.1:1"}},
		{"null origin", map[string]string{"X-Hooktap-Token": tok, "Origin": "null"}},
		{"fetch metadata", map[string]string{"X-Hooktap-Token": tok, "Sec-Fetch-Site": "cross-site"}},
		{"rebinding", map[string]string{"X-Hooktap-Token": tok, "Host": "evil.example:4040"}},
	}
	for _, tc := range refused {
		t.Run(tc.name, func(t *testing.T) {
			r := f.do("POST", path, nil, tc.hdr)
			if r.code != http.StatusForbidden {
				t.Fatalf("status %d, want 403: %s", r.code, r.body)
			}
			msg := r.errorMessage(t)
			if strings.Contains(msg, "browser is out of date") {
				t.Errorf("refusal in net/http's words, which puzzle a curl user: %q", msg)
			}
		})
	}
	if a.n.Load() != 0 {
		t.Fatalf("a refused write reached the app %d times", a.n.Load())
	}
	// A script with the token and no Origin may write.
	if r := f.do("POST", path, nil, map[string]string{"X-Hooktap-Token": tok}); r.code != 200 || a.n.Load() != 1 {
		t.Errorf("token without origin: %d %s", r.code, r.body)
	}
	// Writes need POST.
	if r := f.get(path); r.code != http.StatusMethodNotAllowed {
		t.Errorf("GET replay: %d", r.code)
	}
}

func TestHostCheck(t *testing.T) {
	f := newFixture(t, "")
	for host, want := range map[string]int{
		"127.0.0.1:4040":      200,
		"localhost:4040":      200,
		"LOCALHOST":           200,
		"app.localhost:4040":  200,
		"[::1]:4040":          200,
		"192.168.1.20:4040":   200,
		"evil.example":        403,
		"127.0.0.1.nip.io":    403,
		"localhost.evil.test": 403,
	} {
		for _, path := range []string{"/", "/api/status"} {
			if r := f.do("GET", path, nil, map[string]string{"Host": host}); r.code != want {
				t.Errorf("Host %s %s: %d, want %d", host, path, r.code, want)
			}
		}
	}
}

func TestPage(t *testing.T) {
	f := newFixture(t, "")
	r := f.get("/")
	if r.code != 200 || !strings.Contains(string(r.body), `<meta name="hooktap-token" content="`+f.web.Token()+`">`) {
		t.Fatalf("index: %d, token missing", r.code)
	}
	if csp := r.hdr.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") {
		t.Errorf("CSP: %q", csp)
	}
	for _, p := range []string{"/static/app.js", "/static/app.css"} {
		if r := f.get(p); r.code != 200 || len(r.body) < 1000 {
			t.Errorf("%s: %d, %d bytes", p, r.code, len(r.body))
		}
	}
	// Two servers, two tokens.
	if g := newFixture(t, ""); g.web.Token() == f.web.Token() || len(f.web.Token()) < 26 { // crypto/rand.Text: 130 bits
		t.Error("the token is not per process")
	}
}

func TestStatusCurlExport(t *testing.T) {
	f := newFixture(t, "s3cret")
	f.bus.Publish(live.Event{Kind: live.EventRelay, Relay: live.RelayStatus{
		State: live.StateConnected, URL: "http://relay/h/dev", Target: "http://localhost:3000/webhooks",
	}})
	d := f.add("payable.created", "http://localhost:3000/webhooks", 200)
	f.add("counterpart.created", "http://localhost:3000/webhooks", 500)

	var st statusResponse
	f.get("/api/status").json(t, &st)
	if st.Deliveries != 2 || !st.Live || !st.HasSecret || st.Conn == nil || st.Conn.State != "connected" || st.Conn.URL != "http://relay/h/dev" {
		t.Errorf("status: %+v %+v", st, st.Conn)
	}
	if bytes.Contains(f.get("/api/status").body, []byte("s3cret")) {
		t.Error("status leaks the secret")
	}

	r := f.get("/api/deliveries/" + d.ID + "/curl")
	cmd := string(r.body)
	for _, want := range []string{"curl ", "-X 'POST'", "'http://localhost:3000/webhooks'", "-H 'Content-Type: application/json'", `"action":"payable.created"`} {
		if !strings.Contains(cmd, want) {
			t.Errorf("curl lacks %q:\n%s", want, cmd)
		}
	}
	if r := f.get("/api/deliveries/" + d.ID + "/curl?to=http://127.0.0.1:9/base"); !strings.Contains(string(r.body), "'http://127.0.0.1:9/base'") {
		t.Errorf("curl to: %s", r.body)
	}

	r = f.get("/api/export?format=har&q=type:payable")
	var har struct {
		Log struct {
			Version string
			Entries []struct {
				Request struct {
					Method, URL string
					PostData    *struct{ Text string }
				}
				Response struct{ Status int }
			}
		}
	}
	r.json(t, &har)
	if har.Log.Version != "1.2" || len(har.Log.Entries) != 1 {
		t.Fatalf("har: %s", r.body)
	}
	e := har.Log.Entries[0]
	if e.Request.Method != "POST" || e.Request.URL != "http://localhost:3000/webhooks" || e.Response.Status != 200 ||
		e.Request.PostData == nil || e.Request.PostData.Text != string(d.Body) {
		t.Errorf("har entry: %+v", e)
	}

	r = f.get("/api/export?format=json")
	var ids []string
	if err := store.ReadRecords(bytes.NewReader(r.body), func(x *store.Delivery) error {
		ids = append(ids, x.ID)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(ids) != 2 {
		t.Errorf("json export: %v", ids)
	}
	if r := f.get("/api/export?format=xml"); r.code != 400 {
		t.Errorf("bad format: %d", r.code)
	}
}

// While the agent's store cannot write, /api/status says why and how many
// deliveries wait, and the live stream says so as it changes.
func TestStoreHealth(t *testing.T) {
	f := newFixture(t, "")
	var st map[string]any
	f.get("/api/status").json(t, &st)
	if _, ok := st["store_error"]; ok {
		t.Errorf("store error with a healthy store: %v", st)
	}
	since := time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC)
	f.bus.Publish(live.Event{Kind: live.EventStore, Store: live.StoreHealth{
		Err: "commit: database or disk is full (13)", Since: since, Waiting: 12}})
	var full statusResponse
	f.get("/api/status").json(t, &full)
	if full.StoreError != "commit: database or disk is full (13)" || full.StoreCause != "disk full" || full.StoreWaiting != 12 ||
		full.StoreSince == nil || !full.StoreSince.Equal(since) {
		t.Errorf("status while the store cannot write: %+v", full)
	}

	// A stream that opens now hears the store's state first; then changes.
	req, _ := http.NewRequestWithContext(t.Context(), "GET", f.ts.URL+"/api/events", nil)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	rd := bufio.NewReader(res.Body)
	next := func() (string, liveEvent) {
		t.Helper()
		var name string
		for {
			line, err := rd.ReadString('\n')
			if err != nil {
				t.Fatal(err)
			}
			if v, ok := strings.CutPrefix(line, "event: "); ok {
				name = strings.TrimSpace(v)
			}
			if v, ok := strings.CutPrefix(line, "data: "); ok {
				var ev liveEvent
				if err := json.Unmarshal([]byte(v), &ev); err != nil {
					t.Fatal(err)
				}
				return name, ev
			}
		}
	}
	if name, ev := next(); name != "store" || ev.Store == nil || ev.Store.Waiting != 12 || ev.Store.Cause != "disk full" {
		t.Fatalf("first event %s %+v", name, ev.Store)
	}
	f.bus.Publish(live.Event{Kind: live.EventStore})
	if name, ev := next(); name != "store" || ev.Store == nil || ev.Store.Error != "" {
		t.Fatalf("recovery event %s %+v", name, ev.Store)
	}
	st = nil
	f.get("/api/status").json(t, &st)
	if _, ok := st["store_error"]; ok {
		t.Errorf("store error after recovery: %v", st)
	}
}

func TestEvents(t *testing.T) {
	f := newFixture(t, "")
	req, _ := http.NewRequestWithContext(t.Context(), "GET", f.ts.URL+"/api/events", nil)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if ct := res.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("content type %q", ct)
	}
	rd := bufio.NewReader(res.Body)
	if line, _ := rd.ReadString('\n'); !strings.HasPrefix(line, "retry:") {
		t.Fatalf("first line %q", line)
	}
	d := f.add("payable.created", "http://localhost:3000/webhooks", 200)
	d.Header, d.Body = nil, nil
	f.bus.Publish(live.Event{Kind: live.EventReceived, Delivery: d})
	var name, data string
	for name == "" || data == "" {
		line, err := rd.ReadString('\n')
		if err != nil {
			t.Fatal(err)
		}
		if v, ok := strings.CutPrefix(line, "event: "); ok {
			name = strings.TrimSpace(v)
		}
		if v, ok := strings.CutPrefix(line, "data: "); ok {
			data = v
		}
	}
	var ev liveEvent
	if err := json.Unmarshal([]byte(data), &ev); err != nil {
		t.Fatal(err)
	}
	if name != "delivery" || ev.Delivery == nil || ev.Delivery.ID != d.ID || ev.Delivery.Action != "payable.created" {
		t.Errorf("event %s: %s", name, data)
	}

	// Without a bus there is nothing live, and EventSource is told to stop.
	g := New(Options{Store: f.store})
	rec := httptest.NewRecorder()
	g.ServeHTTP(rec, httptest.NewRequest("GET", "http://127.0.0.1/api/events", nil))
	if rec.Code != http.StatusNoContent {
		t.Errorf("no bus: %d", rec.Code)
	}
}

// TestCurlHostile runs the command GET /api/deliveries/{id}/curl gives for
// deliveries a hostile sender could have stored: shell in the method,
// path, query, headers and body.
func TestCurlHostile(t *testing.T) {
	for name, body := range map[string][]byte{
		"text":   []byte("'$(touch b1)';`touch b2`\"\n"),
		"binary": {0, 0xff, '\'', '$', '(', 0, '\n'},
	} {
		t.Run(name, func(t *testing.T) {
			f := newFixture(t, "")
			got := make(chan *http.Request, 1)
			app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				b, _ := io.ReadAll(r.Body)
				r.Body = io.NopCloser(bytes.NewReader(b))
				got <- r
			}))
			defer app.Close()
			d := store.FromWire(&wire.Delivery{
				ID: "dlv_hostile", Channel: "dev", ReceivedAt: time.Now().UTC(), Method: "PUT`touch$IFS'x'`",
				Path:  "/a/$(touch%20p)/%60touch$IFS'q'%60;touch$IFS'r'",
				Query: "x=';touch$IFS's';'&y=`touch$IFS't'`",
				Header: http.Header{"Content-Type": {"application/json"}, "X-Evil": {"$(touch h1)", "`touch h2`;'"},
					"X-Bytes": {"caf\xe9 \xff"}},
				Body: body,
			})
			if err := store.Wait(t.Context(), f.store.Insert(d)); err != nil {
				t.Fatal(err)
			}
			stored, err := f.store.Get(t.Context(), d.ID)
			if err != nil {
				t.Fatal(err)
			}

			r := f.get("/api/deliveries/" + d.ID + "/curl?to=" + url.QueryEscape(app.URL+"/hooks"))
			if r.code != 200 {
				t.Fatalf("curl: %d %s", r.code, r.body)
			}
			dir := t.TempDir()
			sh := exec.Command("/bin/sh", "-c", string(r.body))
			sh.Dir = dir
			if out, err := sh.CombinedOutput(); err != nil {
				t.Fatalf("%v\n%s\ncommand:\n%s", err, out, r.body)
			}
			if files, _ := os.ReadDir(dir); len(files) > 0 {
				t.Fatalf("the command made %v:\n%s", files, r.body)
			}
			req := <-got
			b, _ := io.ReadAll(req.Body)
			uri := "/hooks" + d.Path + "?" + d.Query
			if req.Method != d.Method || req.RequestURI != uri || !bytes.Equal(b, d.Body) {
				t.Errorf("app got %q %q %q, want %q %q %q", req.Method, req.RequestURI, b, d.Method, uri, d.Body)
			}
			for _, k := range []string{"Content-Type", "X-Evil", "X-Bytes"} {
				if g, w := req.Header.Values(k), stored.Header.Values(k); !slices.Equal(g, w) {
					t.Errorf("%s: app got %q, stored %q", k, g, w)
				}
			}
		})
	}
}

// deref is a record's body as text ("" for none).
func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
