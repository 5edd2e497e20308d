package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// The tests in this file run the real binary as a team relay and check who
// may learn a channel's name or ingress URL: /metrics needs a token in
// team mode, and a channel with a secret URL takes deliveries only at that
// URL.

const teamMetrics = "metrics-token-for-tests-0123456789"

// answer is what a request got: status, the headers a client could tell
// apart (not Date) and the body.
type answer struct {
	status int
	header http.Header
	body   string
}

func do(t *testing.T, method, url, auth, body string) answer {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if auth != "" {
		req.Header.Set("Authorization", "Bearer "+auth)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	resp.Header.Del("Date")
	return answer{resp.StatusCode, resp.Header, string(b)}
}

func TestTeamMetricsNeedToken(t *testing.T) {
	_, relayURL := startRelay(t, "--admin-token", teamAdmin, "--metrics-token", teamMetrics)
	createChannel(t, relayURL, "payroll-eu")
	if a := do(t, "POST", relayURL+"/h/payroll-eu", "", `{"action":"payable.created"}`); a.status != http.StatusAccepted {
		t.Fatalf("post: %d %s", a.status, a.body)
	}

	for name, auth := range map[string]string{
		"no token": "", "wrong token": "not-a-token-of-this-relay", "a channel's agent token": createChannel(t, relayURL, "other").Token,
	} {
		a := do(t, "GET", relayURL+"/metrics", auth, "")
		if a.status != http.StatusUnauthorized || !strings.HasPrefix(a.header.Get("WWW-Authenticate"), "Bearer ") {
			t.Errorf("%s: %d, WWW-Authenticate %q", name, a.status, a.header.Get("WWW-Authenticate"))
		}
		if strings.Count(a.body, "\n") != 1 || !strings.Contains(a.body, "metrics token") || strings.Contains(a.body, "payroll") {
			t.Errorf("%s: body %q", name, a.body)
		}
	}
	for name, auth := range map[string]string{"admin token": teamAdmin, "metrics token": teamMetrics} {
		a := do(t, "GET", relayURL+"/metrics", auth, "")
		if a.status != http.StatusOK {
			t.Fatalf("%s: %d %s", name, a.status, a.body)
		}
		_, samples := parseProm(t, a.body)
		if v, ok := metric(samples, "hooktap_deliveries_received_total", map[string]string{"channel": "payroll-eu"}); !ok || v != 1 {
			t.Errorf("%s: received_total{payroll-eu} = %v (found %v)", name, v, ok)
		}
	}

	// Open mode: /metrics stays open.
	_, openURL := startRelay(t)
	do(t, "POST", openURL+"/h/anyone", "", `{}`)
	if a := do(t, "GET", openURL+"/metrics", "", ""); a.status != http.StatusOK || !strings.Contains(a.body, `channel="anyone"`) {
		t.Errorf("open mode: %d %q", a.status, a.body)
	}

	// A metrics token without team mode, or a short one, is a usage error;
	// so is one from the environment.
	dir := t.TempDir()
	for _, c := range []struct {
		env  []string
		args []string
		msg  string
	}{
		{nil, []string{"--metrics-token", teamMetrics}, "needs team mode"},
		{[]string{"HOOKTAP_METRICS_TOKEN=" + teamMetrics}, nil, "needs team mode"},
		{nil, []string{"--admin-token", teamAdmin, "--metrics-token", "short"}, "at least 16"},
	} {
		_, errOut, code := hooktapOut(t, c.env, append([]string{"relay", "--addr", "127.0.0.1:0", "--data", dir}, c.args...)...)
		if code != 2 || !strings.Contains(errOut, c.msg) || strings.Contains(errOut, teamMetrics) {
			t.Errorf("%v %v: exit %d %q", c.env, c.args, code, errOut)
		}
	}
}

// pathApp records the request URIs it receives.
func pathApp(t *testing.T) (*httptest.Server, chan string) {
	got := make(chan string, 100)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got <- r.URL.RequestURI()
		fmt.Fprint(w, "ok")
	}))
	t.Cleanup(srv.Close)
	return srv, got
}

func waitURI(t *testing.T, got chan string, want string) {
	t.Helper()
	select {
	case uri := <-got:
		if uri != want {
			t.Fatalf("app got %s, want %s", uri, want)
		}
	case <-time.After(20 * time.Second):
		t.Fatalf("app got nothing, want %s", want)
	}
}

var urlSecret = regexp.MustCompile(`^[a-z2-7]{26,}$`) // base32, at least 128 bits

func TestTeamSecretURL(t *testing.T) {
	relayProc, relayURL := startRelay(t, "--admin-token", teamAdmin)
	bare := relayURL + "/h/billing"
	const ev = `{"action":"payable.created","object_type":"payable"}`
	unknown := do(t, "POST", bare, "", ev) // before the channel exists
	if unknown.status != http.StatusNotFound {
		t.Fatalf("unknown channel: %d %s", unknown.status, unknown.body)
	}

	out, errOut, code := hooktapOut(t, nil, "channels", "create", "billing", "--secret-url", "--relay", relayURL, "--admin-token", teamAdmin, "--json")
	var ct struct {
		URL, Token string
		SecretURL  bool `json:"secret_url"`
	}
	if code != 0 || json.Unmarshal([]byte(out), &ct) != nil {
		t.Fatalf("create --secret-url: exit %d %q %q", code, out, errOut)
	}
	secret, ok := strings.CutPrefix(ct.URL, bare+"/")
	if !ct.SecretURL || !ok || !urlSecret.MatchString(secret) {
		t.Fatalf("create --secret-url answered %q", out)
	}

	// Without the secret, or with a wrong one, the channel looks unknown.
	wrong := []byte(secret)
	wrong[len(wrong)-1] ^= 1
	for _, u := range []string{bare, bare + "/", bare + "/billing", bare + "/" + string(wrong), bare + "/" + secret[:len(secret)-1], bare + "/x/" + secret} {
		if a := do(t, "POST", u, "", ev); a.status != unknown.status || a.body != unknown.body || fmt.Sprint(a.header) != fmt.Sprint(unknown.header) {
			t.Errorf("POST %s: %d %v %q, want what an unknown channel gets: %d %v %q", u, a.status, a.header, a.body, unknown.status, unknown.header, unknown.body)
		}
	}
	if a := do(t, "GET", relayURL+"/metrics", teamAdmin, ""); strings.Contains(a.body, "billing") {
		t.Errorf("refused posts are in /metrics under the channel's name:\n%s", a.body)
	}

	// The agent is told the full URL; the secret is not part of the path
	// suffix the app gets.
	srv, got := pathApp(t)
	listen := startProcEnv(t, []string{"HOOKTAP_TOKEN=" + ct.Token}, listenArgs(relayURL, "billing", srv.URL+"/webhooks", filepath.Join(t.TempDir(), "a.db"))...)
	var ready struct{ URL string }
	if json.Unmarshal([]byte(listen.line(t, `"type":"ready"`)), &ready) != nil || ready.URL != ct.URL {
		t.Fatalf("listen is ready at %q, want %q", ready.URL, ct.URL)
	}
	if a := do(t, "POST", ct.URL+"/billing?x=1", "", ev); a.status != 200 || a.body != "ok" {
		t.Errorf("with the secret: %d %s", a.status, a.body)
	}
	waitURI(t, got, "/webhooks/billing?x=1")
	if a := do(t, "POST", ct.URL, "", ev); a.status != 200 {
		t.Errorf("with the secret, no suffix: %d %s", a.status, a.body)
	}
	waitURI(t, got, "/webhooks")

	// Only the two accepted posts are counted, and the page shows them
	// without the secret.
	_, samples := parseProm(t, do(t, "GET", relayURL+"/metrics", teamAdmin, "").body)
	if v, _ := metric(samples, "hooktap_deliveries_received_total", map[string]string{"channel": "billing"}); v != 2 {
		t.Errorf("received_total{billing} = %v, want 2", v)
	}
	page := do(t, "GET", relayURL+"/c/billing/feed.json", ct.Token, "")
	var snap struct{ Items []struct{ Path string } }
	if json.Unmarshal([]byte(page.body), &snap) != nil || len(snap.Items) != 2 || snap.Items[0].Path != "/billing" || snap.Items[1].Path != "/" || strings.Contains(page.body, secret) {
		t.Errorf("channel page feed: %d %s", page.status, page.body)
	}

	// rotate-url: the old URL is refused like an unknown channel, the new
	// one delivers, and an agent that starts now prints it.
	out, errOut, code = hooktapOut(t, nil, "channels", "rotate-url", "billing", "--relay", relayURL, "--admin-token", teamAdmin, "--json")
	var rot struct {
		URL       string
		SecretURL bool `json:"secret_url"`
	}
	if code != 0 || json.Unmarshal([]byte(out), &rot) != nil || !rot.SecretURL || rot.URL == ct.URL || !urlSecret.MatchString(strings.TrimPrefix(rot.URL, bare+"/")) {
		t.Fatalf("rotate-url: exit %d %q %q", code, out, errOut)
	}
	if a := do(t, "POST", ct.URL+"/billing", "", ev); a.status != unknown.status || a.body != unknown.body {
		t.Errorf("old URL after rotation: %d %q", a.status, a.body)
	}
	if a := do(t, "POST", rot.URL+"/after?y=2", "", ev); a.status != 200 && a.status != 202 {
		t.Errorf("new URL: %d %s", a.status, a.body)
	}
	waitURI(t, got, "/webhooks/after?y=2")
	listen2 := startProcEnv(t, []string{"HOOKTAP_TOKEN=" + ct.Token}, listenArgs(relayURL, "billing", srv.URL, filepath.Join(t.TempDir(), "b.db"))...)
	if json.Unmarshal([]byte(listen2.line(t, `"type":"ready"`)), &ready) != nil || ready.URL != rot.URL {
		t.Errorf("listen after rotation is ready at %q, want %q", ready.URL, rot.URL)
	}
	out, _, _ = hooktapOut(t, nil, "channels", "list", "--relay", relayURL, "--admin-token", teamAdmin, "--json")
	if !strings.Contains(out, `"url":"`+rot.URL+`"`) || !strings.Contains(out, `"secret_url":true`) {
		t.Errorf("channels list: %s", out)
	}

	// rotate-url gives a plain channel its first secret.
	plain := createChannel(t, relayURL, "plain")
	if a := do(t, "POST", plain.URL, "", ev); a.status != 202 {
		t.Fatalf("plain channel: %d %s", a.status, a.body)
	}
	out, _, code = hooktapOut(t, nil, "channels", "rotate-url", "plain", "--relay", relayURL, "--admin-token", teamAdmin)
	m := regexp.MustCompile(`Webhook URL  (\S+)`).FindStringSubmatch(out)
	if code != 0 || m == nil || !strings.HasPrefix(m[1], plain.URL+"/") {
		t.Fatalf("rotate-url on a plain channel: exit %d %q", code, out)
	}
	if a := do(t, "POST", plain.URL, "", ev); a.status != 404 {
		t.Errorf("plain URL after rotate-url: %d %s", a.status, a.body)
	}
	if a := do(t, "POST", m[1], "", ev); a.status != 202 {
		t.Errorf("new URL of the plain channel: %d %s", a.status, a.body)
	}

	if _, _, code := hooktapOut(t, nil, "channels", "list", "--secret-url", "--relay", relayURL, "--admin-token", teamAdmin); code != 2 {
		t.Errorf("list --secret-url: exit %d, want 2", code)
	}
	relayProc.stop(t)
	if strings.Contains(relayProc.stderr.String(), secret) {
		t.Error("the relay logged a URL secret")
	}
}
