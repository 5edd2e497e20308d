package provider_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/hooktap/hooktap/inspector/provider"
)

// TestSubscriptionLifecycle walks a subscription through every call of the
// API and checks each status code and field.
func TestSubscriptionLifecycle(t *testing.T) {
	em := startEmulator(t, provider.Config{})
	m := client(t, em.URL)

	s := m.create("payable", "https://example.com/hooks", "created", "payable.paid")
	if !strings.HasPrefix(s.Secret, "whsec_") || len(s.Secret) < 30 || s.Status != "enabled" || s.ObjectType != "payable" ||
		s.URL != "https://example.com/hooks" || strings.Join(s.EventTypes, ",") != "created,payable.paid" || len(s.ID) != 36 {
		t.Fatalf("created: %+v", s)
	}

	var got map[string]any
	if code := m.do("GET", "/webhook_subscriptions/"+s.ID, nil, &got); code != 200 {
		t.Fatalf("get: %d", code)
	}
	if _, ok := got["secret"]; ok || got["id"] != s.ID || got["status"] != "enabled" {
		t.Fatalf("get shows %v (no secret expected)", got)
	}

	var patched sub
	if code := m.do("PATCH", "/webhook_subscriptions/"+s.ID, map[string]any{"url": "https://example.com/v2"}, &patched); code != 200 ||
		patched.URL != "https://example.com/v2" || patched.ObjectType != "payable" || len(patched.EventTypes) != 2 || patched.Secret != "" {
		t.Fatalf("patch url: %d %+v", code, patched)
	}
	if code := m.do("PATCH", "/webhook_subscriptions/"+s.ID, map[string]any{"event_types": []string{}}, &patched); code != 200 || len(patched.EventTypes) != 0 {
		t.Fatalf("patch event_types: %d %+v", code, patched)
	}

	var st sub
	if code := m.do("POST", "/webhook_subscriptions/"+s.ID+"/disable", nil, &st); code != 200 || st.Status != "disabled" {
		t.Fatalf("disable: %d %+v", code, st)
	}
	if code := m.do("GET", "/webhook_subscriptions/"+s.ID, nil, &st); code != 200 || st.Status != "disabled" {
		t.Fatalf("after disable: %d %+v", code, st)
	}
	if code := m.do("POST", "/webhook_subscriptions/"+s.ID+"/enable", nil, &st); code != 200 || st.Status != "enabled" {
		t.Fatalf("enable: %d %+v", code, st)
	}

	var regen sub
	if code := m.do("POST", "/webhook_subscriptions/"+s.ID+"/regenerate_secret", nil, &regen); code != 200 ||
		!strings.HasPrefix(regen.Secret, "whsec_") || regen.Secret == s.Secret {
		t.Fatalf("regenerate: %d %+v", code, regen)
	}

	if code := m.do("DELETE", "/webhook_subscriptions/"+s.ID, nil, nil); code != http.StatusNoContent {
		t.Fatalf("delete: %d", code)
	}
	var e apiError
	for _, c := range []struct{ method, path string }{
		{"GET", "/webhook_subscriptions/" + s.ID}, {"DELETE", "/webhook_subscriptions/" + s.ID},
		{"PATCH", "/webhook_subscriptions/" + s.ID}, {"POST", "/webhook_subscriptions/" + s.ID + "/enable"},
		{"POST", "/webhook_subscriptions/" + s.ID + "/regenerate_secret"}, {"GET", "/events/" + s.ID},
		{"GET", "/webhook_subscriptions/not-a-uuid%00"},
	} {
		var body any
		if c.method == "PATCH" {
			body = map[string]any{"url": "https://example.com"}
		}
		e = apiError{}
		if code := m.do(c.method, c.path, body, &e); code != 404 || e.Error == nil || e.Error.Message == "" {
			t.Errorf("%s %s after delete: %d %+v", c.method, c.path, code, e)
		}
	}
	var list subPage
	if code := m.do("GET", "/webhook_subscriptions", nil, &list); code != 200 || len(list.Data) != 0 || list.Next != nil || list.Prev != nil {
		t.Fatalf("list after delete: %d %+v", code, list)
	}
}

// TestSubscriptionPaging pages through a list both ways, sorted and
// filtered.
func TestSubscriptionPaging(t *testing.T) {
	em := startEmulator(t, provider.Config{})
	m := client(t, em.URL)
	var ids []string
	var mid time.Time
	for i := range 5 {
		if i == 3 {
			time.Sleep(2 * time.Millisecond) // created_at has microseconds: a gap to filter at
			mid = time.Now().UTC()
			time.Sleep(2 * time.Millisecond)
		}
		ids = append(ids, m.create("payable", "https://example.com/"+string(rune('a'+i))).ID)
	}
	m.create("counterpart", "https://example.com/c")

	page := func(query string) subPage {
		t.Helper()
		var p subPage
		if code := m.do("GET", "/webhook_subscriptions"+query, nil, &p); code != 200 {
			t.Fatalf("list %s: %d", query, code)
		}
		return p
	}
	idsOf := func(p subPage) string {
		var s []string
		for _, d := range p.Data {
			s = append(s, d.ID)
		}
		return strings.Join(s, ",")
	}
	p1 := page("?object_type=payable&limit=2")
	if idsOf(p1) != strings.Join(ids[:2], ",") || p1.Next == nil || p1.Prev != nil {
		t.Fatalf("page 1: %s next=%v prev=%v", idsOf(p1), p1.Next, p1.Prev)
	}
	p2 := page("?pagination_token=" + url.QueryEscape(*p1.Next) + "&limit=100&object_type=counterpart") // the token overrides
	if idsOf(p2) != strings.Join(ids[2:4], ",") || p2.Next == nil || p2.Prev == nil {
		t.Fatalf("page 2: %s", idsOf(p2))
	}
	p3 := page("?pagination_token=" + *p2.Next)
	if idsOf(p3) != ids[4] || p3.Next != nil || p3.Prev == nil {
		t.Fatalf("page 3: %s next=%v", idsOf(p3), p3.Next)
	}
	if back := page("?pagination_token=" + *p2.Prev); idsOf(back) != idsOf(p1) {
		t.Fatalf("prev of page 2: %s", idsOf(back))
	}
	desc := page("?object_type=payable&order=desc&sort=updated_at&limit=1")
	if idsOf(desc) != ids[4] {
		t.Fatalf("desc: %s", idsOf(desc))
	}
	gt := page("?object_type=payable&created_at__gt=" + url.QueryEscape(mid.Format(time.RFC3339Nano)))
	if idsOf(gt) != strings.Join(ids[3:], ",") {
		t.Fatalf("created_at__gt: %s", idsOf(gt))
	}
	lte := page("?object_type=payable&created_at__lte=" + url.QueryEscape(mid.Format(time.RFC3339Nano)))
	if idsOf(lte) != strings.Join(ids[:3], ",") {
		t.Fatalf("created_at__lte: %s", idsOf(lte))
	}
	if all := page(""); len(all.Data) != 6 || all.Next != nil {
		t.Fatalf("all: %d", len(all.Data))
	}
}

// TestBadInput sends what an attacker or a buggy client would: every
// answer is a clear 4xx in Monite's shape, never a 500.
func TestBadInput(t *testing.T) {
	em := startEmulator(t, provider.Config{Token: "the-partner-token", Self: nil})
	m := client(t, em.URL)
	m.token = "the-partner-token"
	s := m.create("payable", "https://example.com/hooks")
	huge := `{"object_type":"payable","url":"https://example.com/` + strings.Repeat("a", 2<<20) + `"}`
	cases := []struct {
		name, method, path string
		body               any
		token, version     string
		want               int
		msg                string
	}{
		{"no token", "GET", "/webhook_subscriptions", nil, "-", "", 401, "Bearer"},
		{"wrong token", "GET", "/webhook_subscriptions", nil, "other", "", 401, "Bearer"},
		{"no version", "GET", "/webhook_subscriptions", nil, "", "-", 422, "x-monite-version"},
		{"bad version", "GET", "/webhook_subscriptions", nil, "", "latest", 422, "x-monite-version"},
		{"bad json", "POST", "/webhook_subscriptions", `{"object_type":`, "", "", 422, "JSON"},
		{"not an object", "POST", "/webhook_subscriptions", `[1,2]`, "", "", 422, "JSON"},
		{"trailing data", "POST", "/webhook_subscriptions", `{"object_type":"payable","url":"https://a.b"} {}`, "", "", 422, "extra data"},
		{"empty body", "POST", "/webhook_subscriptions", ``, "", "", 422, "required"},
		{"not utf-8", "POST", "/webhook_subscriptions", []byte("{\"object_type\":\"payable\",\"url\":\"https://a.b/\xff\"}"), "", "", 422, "UTF-8"},
		{"unknown field", "POST", "/webhook_subscriptions", `{"object_type":"payable","url":"https://a.b","event_type":["created"]}`, "", "", 422, "event_type"},
		{"missing url", "POST", "/webhook_subscriptions", `{"object_type":"payable"}`, "", "", 422, "required"},
		{"unknown object type", "POST", "/webhook_subscriptions", `{"object_type":"payables","url":"https://a.b"}`, "", "", 422, "object_type"},
		{"wrong event", "POST", "/webhook_subscriptions", `{"object_type":"payable","url":"https://a.b","event_types":["shipped"]}`, "", "", 422, "not an event"},
		{"event of another object", "PATCH", "/webhook_subscriptions/" + s.ID, `{"event_types":["counterpart.created"]}`, "", "", 422, "not an event"},
		{"null url", "PATCH", "/webhook_subscriptions/" + s.ID, `{"url":null}`, "", "", 200, ""},
		{"wrong type", "POST", "/webhook_subscriptions", `{"object_type":1,"url":"https://a.b"}`, "", "", 422, "object_type"},
		{"ftp url", "POST", "/webhook_subscriptions", `{"object_type":"payable","url":"ftp://a.b"}`, "", "", 422, "http"},
		{"relative url", "POST", "/webhook_subscriptions", `{"object_type":"payable","url":"/hooks"}`, "", "", 422, "http"},
		{"url with password", "POST", "/webhook_subscriptions", `{"object_type":"payable","url":"https://u:p@a.b"}`, "", "", 422, "password"},
		{"url too long", "POST", "/webhook_subscriptions", `{"object_type":"payable","url":"https://a.b/` + strings.Repeat("a", 2100) + `"}`, "", "", 422, "2083"},
		{"url with newline", "POST", "/webhook_subscriptions", `{"object_type":"payable","url":"https://a.b/\nx"}`, "", "", 422, "control"},
		{"huge body", "POST", "/webhook_subscriptions", huge, "", "", 413, "bytes"},
		{"limit 0", "GET", "/webhook_subscriptions?limit=0", nil, "", "", 422, "limit"},
		{"limit 101", "GET", "/webhook_subscriptions?limit=101", nil, "", "", 422, "limit"},
		{"limit word", "GET", "/webhook_subscriptions?limit=ten", nil, "", "", 422, "limit"},
		{"bad order", "GET", "/webhook_subscriptions?order=up", nil, "", "", 422, "order"},
		{"bad sort", "GET", "/webhook_subscriptions?sort=id", nil, "", "", 422, "sort"},
		{"bad time", "GET", "/webhook_subscriptions?created_at__gt=yesterday", nil, "", "", 422, "created_at__gt"},
		{"bad query string", "GET", "/webhook_subscriptions?limit=%%%", nil, "", "", 422, "query string"},
		{"garbage token", "GET", "/webhook_subscriptions?pagination_token=!!not*a*token", nil, "", "", 422, "pagination_token"},
		{"huge token", "GET", "/webhook_subscriptions?pagination_token=" + strings.Repeat("A", 5000), nil, "", "", 422, "pagination_token"},
		{"forged token", "GET", "/webhook_subscriptions?pagination_token=" + forged(`{"e":"webhook_subscription","l":5000,"o":"asc","s":"created_at","n":0}`), nil, "", "", 422, "limit"},
		{"injected sort", "GET", "/webhook_subscriptions?pagination_token=" + forged(`{"e":"webhook_subscription","l":5,"o":"asc; DROP TABLE events","s":"created_at","n":0}`), nil, "", "", 422, "order"},
		{"other list's token", "GET", "/events?pagination_token=" + forged(`{"e":"webhook_subscription","l":5,"o":"asc","s":"created_at","n":0}`), nil, "", "", 422, "another list"},
		{"unknown endpoint", "GET", "/nothing", nil, "", "", 404, "no such endpoint"},
		{"unknown event", "POST", "/_emulator/events", `{"action":"payable.creatd"}`, "", "", 422, "payable.created"},
		{"bad set path", "POST", "/_emulator/events", `{"action":"payable.created","set":{"object..x":1}}`, "", "", 422, "set"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			mc := *m
			mc.t = t
			if c.token == "-" {
				mc.token = ""
			} else if c.token != "" {
				mc.token = c.token
			}
			if c.version == "-" {
				mc.version = ""
			} else if c.version != "" {
				mc.version = c.version
			}
			var raw json.RawMessage
			code := mc.do(c.method, c.path, c.body, &raw)
			if code != c.want || !strings.Contains(string(raw), c.msg) {
				t.Fatalf("%d %s, want %d mentioning %q", code, raw, c.want, c.msg)
			}
			if code >= 400 {
				var e apiError
				json.Unmarshal(raw, &e)
				if (code == 422) != (len(e.Detail) == 1 && e.Detail[0].Msg != "" && len(e.Detail[0].Loc) > 0) || (code != 422 && e.Error == nil) {
					t.Fatalf("not Monite's error shape for %d: %s", code, raw)
				}
			}
		})
	}
	var got sub
	if m.do("GET", "/webhook_subscriptions/"+s.ID, nil, &got); got.URL != "https://example.com/hooks" {
		t.Fatalf("a refused call changed the subscription: %+v", got)
	}
}

func forged(j string) string {
	return strings.TrimRight(strings.NewReplacer("+", "-", "/", "_").Replace(b64(j)), "=")
}

// TestSubscriptionToItself refuses a URL that would make the emulator
// deliver to its own API.
func TestSubscriptionToItself(t *testing.T) {
	em := startEmulator(t, provider.Config{Self: []string{"127.0.0.1:8790"}})
	m := client(t, em.URL)
	// Every spelling of a loopback address reaches it: IPv4-mapped IPv6,
	// the long IPv6 form, 127/8.
	for _, u := range []string{"http://127.0.0.1:8790/v1/_emulator/events", "http://localhost:8790/", "http://[::1]:8790/x",
		"http://[::ffff:127.0.0.1]:8790/v1/_emulator/events", "http://[0:0:0:0:0:0:0:1]:8790/", "http://[::ffff:0.0.0.0]:8790/", "http://127.9.8.7:8790/"} {
		var e apiError
		if code := m.do("POST", "/webhook_subscriptions", map[string]any{"object_type": "payable", "url": u}, &e); code != 422 ||
			!strings.Contains(e.Detail[0].Msg, "emulator itself") {
			t.Errorf("%s: %d %+v", u, code, e)
		}
	}
	m.create("payable", "http://127.0.0.1:8791/hooks") // another port is fine
}

// TestWebhookSettings is the legacy API of the oldest docs: POST answers
// 200, DELETE 200 with a message, and no x-monite-version is needed.
func TestWebhookSettings(t *testing.T) {
	em := startEmulator(t, provider.Config{})
	m := client(t, em.URL)
	m.version = ""
	var s sub
	if code := m.do("POST", "/webhook_settings", map[string]any{"object_type": "entity", "url": "https://example.com/e"}, &s); code != 200 ||
		s.ID == "" || s.ObjectType != "entity" || s.URL != "https://example.com/e" || s.Status != "enabled" {
		t.Fatalf("create setting: %d %+v", code, s)
	}
	var list subPage
	if code := m.do("GET", "/webhook_settings", nil, &list); code != 200 || len(list.Data) != 1 {
		t.Fatalf("list settings: %d %+v", code, list)
	}
	m.version = "2024-05-25"
	var subs subPage
	if m.do("GET", "/webhook_subscriptions", nil, &subs); len(subs.Data) != 0 {
		t.Fatalf("a setting shows among subscriptions: %+v", subs)
	}
	if code := m.do("GET", "/webhook_subscriptions/"+s.ID, nil, nil); code != 404 {
		t.Fatalf("a setting is reachable as a subscription: %d", code)
	}
	var patched sub
	if code := m.do("PATCH", "/webhook_settings/"+s.ID, map[string]any{"url": "https://example.com/e2"}, &patched); code != 200 || patched.URL != "https://example.com/e2" {
		t.Fatalf("patch setting: %d %+v", code, patched)
	}
	var msg struct{ Message string }
	if code := m.do("DELETE", "/webhook_settings/"+s.ID, nil, &msg); code != 200 || msg.Message == "" {
		t.Fatalf("delete setting: %d %+v", code, msg)
	}
	if code := m.do("GET", "/webhook_settings/"+s.ID, nil, nil); code != 404 {
		t.Fatalf("after delete: %d", code)
	}
}

// TestStateSurvivesRestart reopens the database.
func TestStateSurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	p, err := provider.Open(t.Context(), provider.Config{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	srv := newServer(p)
	m := client(t, srv.URL+"/v1")
	s := m.create("payable", "https://example.com/hooks")
	srv.Close()
	p.Close()
	em := startEmulator(t, provider.Config{DataDir: dir})
	var got sub
	if code := client(t, em.URL).do("GET", "/webhook_subscriptions/"+s.ID, nil, &got); code != 200 || got.URL != s.URL {
		t.Fatalf("after restart: %d %+v", code, got)
	}
}

// TestRebindingRefused: a request addressed to a name that is not local
// (a DNS rebinding page in the developer's browser) is refused, even with a
// token, unless the name is allowed.
func TestRebindingRefused(t *testing.T) {
	em := startEmulator(t, provider.Config{AllowHosts: []string{"devbox"}})
	for host, want := range map[string]int{"evil.example": 403, "evil.example:8790": 403, "localhost:8790": 200,
		"127.0.0.1": 200, "[::1]:8790": 200, "app.localhost": 200, "host.docker.internal:8790": 200, "DEVBOX:8790": 200} {
		req, _ := http.NewRequest("GET", em.URL+"/webhook_subscriptions", nil)
		req.Host = host
		req.Header.Set("Authorization", "Bearer t")
		req.Header.Set("x-monite-version", "2024-05-25")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("Host %s: %d, want %d", host, resp.StatusCode, want)
		}
	}
}

// TestOneEmulatorPerState: a second emulator on the same state is refused
// (both would send every retry) until the first closes.
func TestOneEmulatorPerState(t *testing.T) {
	dir := t.TempDir()
	p1, err := provider.Open(t.Context(), provider.Config{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := provider.Open(t.Context(), provider.Config{DataDir: dir}); err == nil || !strings.Contains(err.Error(), "already uses") {
		t.Fatalf("second emulator on one state: %v", err)
	}
	p1.Close()
	p2, err := provider.Open(t.Context(), provider.Config{DataDir: dir})
	if err != nil {
		t.Fatalf("after the first closed: %v", err)
	}
	p2.Close()
}

// TestTypeErrorsNameTheField: a body of the wrong JSON type is a 422 whose
// loc names the field, as Monite's (FastAPI's) validation errors do, so a
// client can show the error beside the field; and the message speaks JSON,
// not the emulator's Go types.
func TestTypeErrorsNameTheField(t *testing.T) {
	em := startEmulator(t, provider.Config{})
	m := client(t, em.URL)
	for _, c := range []struct{ body, loc, msg string }{
		{`{"object_type":1,"url":"https://a.b"}`, `["body","object_type"]`, "expected a JSON string, got number"},
		{`{"object_type":"payable","url":"https://a.b","event_types":"created"}`, `["body","event_types"]`, "expected a JSON array, got string"},
		{`{"object_type":"payable","url":"https://a.b","event_types":[1]}`, `["body","event_types"]`, "expected a JSON string, got number"},
		{`{"object_type":"payable","url":"https://a.b","event_type":["created"]}`, `["body","event_type"]`, "extra field not permitted"},
		{`[1,2]`, `["body"]`, "expected a JSON object, got array"},
	} {
		var e apiError
		code := m.do("POST", "/webhook_subscriptions", c.body, &e)
		loc, _ := json.Marshal(e.Detail[0].Loc)
		if code != 422 || len(e.Detail) != 1 || string(loc) != c.loc || !strings.Contains(e.Detail[0].Msg, c.msg) || strings.Contains(e.Detail[0].Msg, "provider.") {
			t.Errorf("%s: %d loc %s msg %q; want 422 loc %s msg with %q", c.body, code, loc, e.Detail[0].Msg, c.loc, c.msg)
		}
	}
}
