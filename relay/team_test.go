package relay

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

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
	if srv.team.registry.Check("ops", ct.Token) != nil || srv.team.registry.Check("ops", ct.Token+"x") == nil || srv.team.registry.Exists("billing") {
		t.Fatal("registry after restart")
	}
}

func TestAgentTokens(t *testing.T) {
	srv, ts := newRelay(t, Config{AdminToken: testAdmin})
	tok, err := srv.team.registry.Create(t.Context(), "ops", false)
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
	if _, err := srv.team.registry.Rotate(t.Context(), "ops"); err != nil {
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
	srv.team.registry.Create(t.Context(), "ops", false)
	if resp, b := post(t, ts.URL+"/h/ops/x", []byte(`{}`)); resp.StatusCode != 202 {
		t.Fatalf("known: %d %s", resp.StatusCode, b)
	}
	if d, _ := srv.buf.Depth(t.Context()); d["nope"] != 0 || d["ops"] != 1 {
		t.Fatalf("buffer %v", d)
	}
}

// TestAdminRefusalSaysWhatIsWrong: a 401 from the admin API says in one
// line whether the token is missing, not a bearer token, the metrics token
// or wrong, and how to give it; never what was sent.
func TestAdminRefusalSaysWhatIsWrong(t *testing.T) {
	const metrics = "metrics-token-for-tests-0123456789"
	srv, err := New(t.Context(), Config{DataDir: t.TempDir(), AdminToken: testAdmin, MetricsToken: metrics})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	ts := httptest.NewServer(srv.Handler())
	defer ts.Close()
	for _, c := range []struct{ auth, want string }{
		{"", "no admin token: "},
		{"Basic c2VjcmV0LXNlbnQtaW4tdGhlLWNsZWFy", `the Authorization header is not "Bearer TOKEN": `},
		{"Bearer", `the Authorization header is not "Bearer TOKEN": `},
		{"Bearer " + metrics, "that is the relay's metrics token, which reads /metrics only: "},
		{"Bearer secret-sent-in-the-clear", "wrong admin token: not the one this relay was started with (its --admin-token or HOOKTAP_ADMIN_TOKEN); "},
	} {
		req, _ := http.NewRequest("GET", ts.URL+"/api/channels", nil)
		if c.auth != "" {
			req.Header.Set("Authorization", c.auth)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		body := string(b)
		if resp.StatusCode != http.StatusUnauthorized || strings.Count(body, "\n") != 1 || !strings.HasPrefix(body, "hooktap: "+c.want) ||
			!strings.Contains(body, "--admin-token TOKEN or HOOKTAP_ADMIN_TOKEN, or send Authorization: Bearer TOKEN") {
			t.Errorf("Authorization %q: %d %q, want one line starting %q that says how to give the token", c.auth, resp.StatusCode, body, c.want)
		}
		for _, secret := range []string{"secret-sent-in-the-clear", "c2VjcmV0", metrics} {
			if strings.Contains(body, secret) {
				t.Errorf("Authorization %q: the answer repeats what was sent: %q", c.auth, body)
			}
		}
	}
}
