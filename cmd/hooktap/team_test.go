package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// The tests in this file run the real binary as a team relay: channels and
// tokens, several agents with filters on one channel, TLS, the rate limit
// and /metrics.

const teamAdmin = "admin-token-for-tests-0123456789"

// hooktapOut runs hooktap to completion and returns stdout, stderr and the
// exit code.
func hooktapOut(t *testing.T, env []string, args ...string) (string, string, int) {
	t.Helper()
	return hooktapOutIn(t, "", env, args...)
}

// hooktapOutIn is hooktapOut in working directory dir ("": the test's).
func hooktapOutIn(t *testing.T, dir string, env []string, args ...string) (string, string, int) {
	t.Helper()
	bin := hooktapBin(t) // built before the clock starts
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Dir = dir
	cmd.Env = append(append(os.Environ(), hooktapTestEnv(t)...), env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("%v: %v", args, err)
	}
	if ctx.Err() != nil {
		t.Fatalf("%v did not exit within 30s; stderr:\n%s", args, stderr.String())
	}
	defaultAddrUsed(t, args, stderr.String())
	return stdout.String(), stderr.String(), code
}

type channelToken struct{ Name, URL, Token string }

func createChannel(t *testing.T, relayURL, name string) channelToken {
	t.Helper()
	out, errOut, code := hooktapOut(t, nil, "channels", "create", name, "--relay", relayURL, "--admin-token", teamAdmin, "--json")
	var ct channelToken
	if code != 0 || json.Unmarshal([]byte(out), &ct) != nil {
		t.Fatalf("channels create: exit %d, %q %q", code, out, errOut)
	}
	return ct
}

// actionApp records the events it receives and answers with its name.
type actionApp struct {
	name string
	srv  *httptest.Server
	mu   sync.Mutex
	got  []string // "action/entity" in arrival order
	seen chan string
}

func newActionApp(t *testing.T, name string) *actionApp {
	a := &actionApp{name: name, seen: make(chan string, 100)}
	a.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var ev struct {
			Action string `json:"action"`
			ID     string `json:"id"`
		}
		json.NewDecoder(r.Body).Decode(&ev)
		a.mu.Lock()
		a.got = append(a.got, ev.ID)
		a.mu.Unlock()
		a.seen <- ev.ID
		w.Header().Set("Content-Type", "text/plain")
		fmt.Fprint(w, "answered by "+name)
	}))
	t.Cleanup(a.srv.Close)
	return a
}

func (a *actionApp) events() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := append([]string(nil), a.got...)
	sort.Strings(out)
	return out
}

// waitEvents waits until the app has received exactly want (in any order).
func (a *actionApp) waitEvents(t *testing.T, want ...string) {
	t.Helper()
	sort.Strings(want)
	deadline := time.After(20 * time.Second)
	for {
		got := a.events()
		if fmt.Sprint(got) == fmt.Sprint(want) {
			return
		}
		if len(got) > len(want) {
			t.Fatalf("app %s got %v, want %v", a.name, got, want)
		}
		select {
		case <-a.seen:
		case <-deadline:
			t.Fatalf("app %s got %v, want %v", a.name, got, want)
		}
	}
}

func sendEvent(t *testing.T, client *http.Client, ingress, id, action string) (int, string) {
	t.Helper()
	body := fmt.Sprintf(`{"id":%q,"action":%q,"object_type":%q,"entity_id":"ent_1","object":{"id":"obj_1"}}`, id, action, strings.Split(action, ".")[0])
	resp, err := client.Post(ingress, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatalf("post %s: %v", id, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func listenArgs(relayURL, channel, forward, db string, extra ...string) []string {
	return append([]string{"listen", "--relay", relayURL, "--channel", channel, "--forward-to", forward,
		"--db", db, "--no-tui", "--json", "--no-web"}, extra...)
}

func TestTeamTokens(t *testing.T) {
	relayProc, relayURL := startRelay(t, "--admin-token", teamAdmin)
	app := newActionApp(t, "app")
	ct := createChannel(t, relayURL, "billing")
	if ct.Name != "billing" || ct.URL != relayURL+"/h/billing" || !strings.HasPrefix(ct.Token, "htk_") || len(ct.Token) < 40 {
		t.Fatalf("create answered %+v", ct)
	}
	if _, errOut, code := hooktapOut(t, nil, "channels", "create", "billing", "--relay", relayURL, "--admin-token", teamAdmin); code != 1 || !strings.Contains(errOut, "already exists") {
		t.Errorf("second create: exit %d %q", code, errOut)
	}
	if _, errOut, code := hooktapOut(t, nil, "channels", "list", "--relay", relayURL, "--admin-token", "not-the-admin-token-at-all"); code != 1 || !strings.Contains(errOut, "401: wrong admin token") ||
		!strings.Contains(errOut, "--admin-token TOKEN or HOOKTAP_ADMIN_TOKEN") || strings.Count(errOut, "\n") != 1 || strings.Contains(errOut, "not-the-admin-token-at-all") {
		t.Errorf("list with a wrong admin token: exit %d %q", code, errOut)
	}
	if _, _, code := hooktapOut(t, nil, "channels", "create", "--relay", relayURL, "--admin-token", teamAdmin); code != 2 {
		t.Errorf("create without a name: exit %d, want 2", code)
	}

	db := filepath.Join(t.TempDir(), "a.db")
	for _, c := range []struct {
		name, channel, msg string
		env                []string
		extra              []string
	}{
		{"no token", "billing", "needs its agent token", nil, nil},
		{"wrong token", "billing", "wrong token for channel billing", nil, []string{"--token", "htk_wrong"}},
		{"token of the env, wrong", "billing", "wrong token", []string{"HOOKTAP_TOKEN=htk_wrong"}, nil},
		{"unknown channel", "nope", "no channel nope", nil, []string{"--token", ct.Token}},
	} {
		t.Run(c.name, func(t *testing.T) {
			out, errOut, code := hooktapOut(t, c.env, listenArgs(relayURL, c.channel, app.srv.URL, db, c.extra...)...)
			lines := strings.Split(strings.TrimSpace(errOut), "\n")
			if code != 1 || len(lines) != 1 || !strings.HasPrefix(lines[0], "hooktap: refused by relay: ") || !strings.Contains(errOut, c.msg) {
				t.Fatalf("exit %d, stderr %q (stdout %q)", code, errOut, out)
			}
			if strings.Contains(errOut, ct.Token) {
				t.Fatal("the token is in the error")
			}
		})
	}
	// The command the refusal gives works when pasted, with the admin
	// token in the variable channels reads.
	_, errOut, _ := hooktapOut(t, nil, listenArgs(relayURL, "pasted", app.srv.URL, db, "--token", ct.Token)...)
	_, cmd, ok := strings.Cut(strings.TrimSpace(errOut), "an admin creates it with: ")
	if !ok || !strings.HasSuffix(cmd, ")") {
		t.Fatalf("no command in %q", errOut)
	}
	sh := exec.Command("sh", "-c", strings.TrimSuffix(cmd, ")"))
	sh.Env = append(append(os.Environ(), hooktapTestEnv(t)...), "HOOKTAP_ADMIN_TOKEN="+teamAdmin)
	if out, err := sh.CombinedOutput(); err != nil || !strings.Contains(string(out), "channel pasted created") {
		t.Errorf("pasted %q: %v\n%s", cmd, err, out)
	}
	if _, errOut, code := hooktapOut(t, nil, "channels", "delete", "pasted", "--relay", relayURL, "--admin-token", teamAdmin); code != 0 {
		t.Fatalf("delete the pasted channel: %d %s", code, errOut)
	}

	// A POST to a channel nobody created is 404; the real one is kept.
	if code, body := sendEvent(t, http.DefaultClient, relayURL+"/h/nope", "evt_0", "payable.created"); code != http.StatusNotFound {
		t.Errorf("unknown channel: %d %s", code, body)
	}
	if code, body := sendEvent(t, http.DefaultClient, ct.URL, "evt_1", "payable.created"); code != http.StatusAccepted {
		t.Errorf("no agent yet: %d %s", code, body)
	}

	// The right token (from the environment) gets the kept delivery, then
	// a live one with the app's answer.
	listen := startProcEnv(t, []string{"HOOKTAP_TOKEN=" + ct.Token}, listenArgs(relayURL, "billing", app.srv.URL, db)...)
	listen.line(t, `"type":"ready"`)
	app.waitEvents(t, "evt_1")
	if code, body := sendEvent(t, http.DefaultClient, ct.URL, "evt_2", "payable.created"); code != 200 || body != "answered by app" {
		t.Errorf("with an agent: %d %s", code, body)
	}
	out, _, _ := hooktapOut(t, nil, "channels", "list", "--relay", relayURL, "--admin-token", teamAdmin, "--json")
	var st struct {
		Name   string
		Agents int
	}
	if json.Unmarshal([]byte(out), &st) != nil || st.Name != "billing" || st.Agents != 1 {
		t.Errorf("channels list: %q", out)
	}

	// Rotating the token disconnects the agent for good: it exits 1 with
	// one line, and the old token no longer works.
	out, _, code := hooktapOut(t, nil, "channels", "rotate-token", "billing", "--relay", relayURL, "--admin-token", teamAdmin, "--json")
	var rot channelToken
	if code != 0 || json.Unmarshal([]byte(out), &rot) != nil || rot.Token == ct.Token || !strings.HasPrefix(rot.Token, "htk_") {
		t.Fatalf("rotate: exit %d %q", code, out)
	}
	select {
	case err := <-listen.done:
		listen.done <- err
		if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 || !strings.Contains(listen.stderr.String(), "refused by relay") {
			t.Errorf("listen after rotation: %v, stderr %q", err, listen.stderr)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("listen did not exit after the token was rotated")
	}
	if _, errOut, code := hooktapOut(t, nil, listenArgs(relayURL, "billing", app.srv.URL, db, "--token", ct.Token)...); code != 1 || !strings.Contains(errOut, "wrong token") {
		t.Errorf("old token after rotation: exit %d %q", code, errOut)
	}

	// Delete: the channel is gone for senders and agents.
	if _, errOut, code := hooktapOut(t, nil, "channels", "delete", "billing", "--relay", relayURL, "--admin-token", teamAdmin); code != 0 {
		t.Fatalf("delete: exit %d %q", code, errOut)
	}
	if code, _ := sendEvent(t, http.DefaultClient, ct.URL, "evt_3", "payable.created"); code != http.StatusNotFound {
		t.Errorf("deleted channel: %d", code)
	}
	if _, errOut, code := hooktapOut(t, nil, "channels", "delete", "billing", "--relay", relayURL, "--admin-token", teamAdmin); code != 1 || !strings.Contains(errOut, "404") {
		t.Errorf("delete twice: exit %d %q", code, errOut)
	}
	relayProc.stop(t)
	if strings.Contains(relayProc.stderr.String(), ct.Token) || strings.Contains(relayProc.stderr.String(), rot.Token) {
		t.Error("the relay logged a token")
	}
}

// Three agents on one channel, each with its own store and filter: each
// app gets exactly the events its agent subscribed to; the sender gets the
// answer of an agent whose filter matched; an agent that was away gets what
// it missed from its own position, and the others are not sent it again.
func TestTeamFanOutFilters(t *testing.T) {
	_, relayURL := startRelay(t)
	all, pay, cp := newActionApp(t, "all"), newActionApp(t, "pay"), newActionApp(t, "cp")
	dir := t.TempDir()
	start := func(app *actionApp, events string) *proc {
		var extra []string
		if events != "" {
			extra = []string{"--events", events}
		}
		p := startProc(t, listenArgs(relayURL, "team", app.srv.URL, filepath.Join(dir, app.name+".db"), extra...)...)
		p.line(t, `"type":"ready"`)
		return p
	}
	start(all, "")
	payProc := start(pay, "payable.*,counterpart.created")
	start(cp, "counterpart.*")
	ingress := relayURL + "/h/team"

	events := []struct{ id, action string }{
		{"e1", "payable.created"},
		{"e2", "counterpart.created"},
		{"e3", "counterpart.updated"},
		{"e4", "receivable.created"},
		{"e5", "payable.approved"},
	}
	who := map[string][]string{ // which apps may answer each
		"e1": {"all", "pay"}, "e2": {"all", "pay", "cp"}, "e3": {"all", "cp"}, "e4": {"all"}, "e5": {"all", "pay"},
	}
	for _, ev := range events {
		code, body := sendEvent(t, http.DefaultClient, ingress, ev.id, ev.action)
		name := strings.TrimPrefix(body, "answered by ")
		if code != 200 || !contains(who[ev.id], name) {
			t.Errorf("%s (%s): sender got %d %q, want the answer of one of %v", ev.id, ev.action, code, body, who[ev.id])
		}
	}
	all.waitEvents(t, "e1", "e2", "e3", "e4", "e5")
	pay.waitEvents(t, "e1", "e2", "e5")
	cp.waitEvents(t, "e2", "e3")

	// pay goes away; what it subscribed to waits for it, the others get
	// theirs live.
	payProc.stop(t)
	for _, ev := range []struct{ id, action string }{{"e6", "payable.paid"}, {"e7", "counterpart.updated"}} {
		if code, body := sendEvent(t, http.DefaultClient, ingress, ev.id, ev.action); code != 200 {
			t.Errorf("%s with pay away: %d %s", ev.id, code, body)
		}
	}
	all.waitEvents(t, "e1", "e2", "e3", "e4", "e5", "e6", "e7")
	cp.waitEvents(t, "e2", "e3", "e7")
	start(pay, "payable.*,counterpart.created")
	pay.waitEvents(t, "e1", "e2", "e5", "e6")

	// One more live event proves nobody got a duplicate in the meantime.
	if code, _ := sendEvent(t, http.DefaultClient, ingress, "e8", "counterpart.created"); code != 200 {
		t.Errorf("e8: %d", code)
	}
	all.waitEvents(t, "e1", "e2", "e3", "e4", "e5", "e6", "e7", "e8")
	pay.waitEvents(t, "e1", "e2", "e5", "e6", "e8")
	cp.waitEvents(t, "e2", "e3", "e7", "e8")
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// writeCert writes a self-signed certificate for 127.0.0.1 and its key.
func writeCert(t *testing.T) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "hooktap test relay"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		IPAddresses:           []net.IP{net.ParseIP("127.0.0.1")},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}), 0o600)
	cert, _ := x509.ParseCertificate(der)
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	return certFile, keyFile, pool
}

func TestTeamTLS(t *testing.T) {
	certFile, keyFile, pool := writeCert(t)
	relayProc := startProc(t, "relay", "--addr", "127.0.0.1:0", "--data", t.TempDir(), "--tls-cert", certFile, "--tls-key", keyFile)
	l := relayProc.line(t, "listening on ")
	addr := strings.Fields(l[strings.Index(l, "listening on ")+len("listening on "):])[0]
	relayURL := "https://" + addr
	relayProc.line(t, "ingress: "+relayURL+"/h/")

	// Plain HTTP is not served.
	if resp, err := http.Get("http://" + addr + "/healthz"); err == nil {
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode == 200 {
			t.Errorf("plain HTTP answered 200: %s", b)
		}
	}
	// The agent trusts the test CA through SSL_CERT_FILE, as Go does on
	// Linux, and dials wss:// because the relay URL is https://.
	app := newActionApp(t, "tls")
	listen := startProcEnv(t, []string{"SSL_CERT_FILE=" + certFile},
		listenArgs(relayURL, "secure", app.srv.URL, filepath.Join(t.TempDir(), "a.db"))...)
	var ready struct{ URL string }
	if err := json.Unmarshal([]byte(listen.line(t, `"type":"ready"`)), &ready); err != nil || ready.URL != relayURL+"/h/secure" {
		t.Fatalf("ready line over wss: %+v %v", ready, err)
	}
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	code, body := sendEvent(t, client, ready.URL, "evt_tls", "payable.created")
	if code != 200 || body != "answered by tls" {
		t.Fatalf("over https: %d %s", code, body)
	}
	app.waitEvents(t, "evt_tls")
	// ALPN offers HTTP/1.1 only, also to a client that asks for h2.
	h2 := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}, ForceAttemptHTTP2: true}}
	if resp, err := h2.Get(relayURL + "/healthz"); err != nil || resp.Proto != "HTTP/1.1" {
		t.Errorf("a client offering h2: %v %v", resp, err)
	} else {
		resp.Body.Close()
	}
	dl := listen.line(t, `"type":"delivery"`)
	if !strings.Contains(dl, `"status":200`) {
		t.Errorf("delivery line %s", dl)
	}
}

func TestTeamRateLimitAndMetrics(t *testing.T) {
	_, relayURL := startRelay(t, "--rate", "1/m", "--rate-burst", "4")
	app := newActionApp(t, "app")
	listen := startProc(t, listenArgs(relayURL, "ops", app.srv.URL, filepath.Join(t.TempDir(), "a.db"))...)
	listen.line(t, `"type":"ready"`)
	ingress := relayURL + "/h/ops"

	// The burst passes; beyond it, 429 with a Retry-After in seconds (a
	// token comes back every minute).
	for i := range 4 {
		if code, body := sendEvent(t, http.DefaultClient, ingress, fmt.Sprint("r", i), "payable.created"); code != 200 {
			t.Fatalf("delivery %d: %d %s", i, code, body)
		}
	}
	resp, err := http.Post(ingress, "application/json", strings.NewReader(`{"action":"payable.created"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	ra, _ := strconv.Atoi(resp.Header.Get("Retry-After"))
	if resp.StatusCode != http.StatusTooManyRequests || ra < 50 || ra > 60 {
		t.Fatalf("over the limit: %d, Retry-After %q", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	// Another channel has its own bucket.
	if code, _ := sendEvent(t, http.DefaultClient, relayURL+"/h/other", "o1", "payable.created"); code != http.StatusAccepted {
		t.Errorf("other channel: %d", code)
	}
	app.waitEvents(t, "r0", "r1", "r2", "r3")

	resp, err = http.Get(relayURL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain; version=0.0.4") {
		t.Errorf("content type %q", ct)
	}
	types, samples := parseProm(t, string(b))
	for name, typ := range map[string]string{
		"hooktap_deliveries_received_total": "counter", "hooktap_deliveries_answered_total": "counter",
		"hooktap_delivery_duration_seconds": "histogram", "hooktap_agents_connected": "gauge", "hooktap_buffer_depth": "gauge",
	} {
		if types[name] != typ {
			t.Errorf("%s is %q, want %s", name, types[name], typ)
		}
	}
	ops := map[string]string{"channel": "ops"}
	want := []struct {
		name   string
		labels map[string]string
		value  float64
	}{
		{"hooktap_deliveries_received_total", ops, 5},
		{"hooktap_deliveries_answered_total", map[string]string{"channel": "ops", "code": "200"}, 4},
		{"hooktap_deliveries_answered_total", map[string]string{"channel": "ops", "code": "429"}, 1},
		{"hooktap_deliveries_answered_total", map[string]string{"channel": "other", "code": "202"}, 1},
		{"hooktap_delivery_duration_seconds_count", ops, 5},
		{"hooktap_delivery_duration_seconds_bucket", map[string]string{"channel": "ops", "le": "+Inf"}, 5},
		{"hooktap_agents_connected", ops, 1},
		{"hooktap_buffer_depth", ops, 4},
		{"hooktap_buffer_depth", map[string]string{"channel": "other"}, 1},
	}
	for _, w := range want {
		if v, ok := metric(samples, w.name, w.labels); !ok || v != w.value {
			t.Errorf("%s%v = %v (found %v), want %v", w.name, w.labels, v, ok, w.value)
		}
	}
	// Buckets are cumulative and end at the count; the sum is plausible.
	prev, n := -1.0, 0
	for _, s := range samples {
		if s.name == "hooktap_delivery_duration_seconds_bucket" && s.labels["channel"] == "ops" {
			if s.value < prev {
				t.Errorf("bucket le=%s went down: %v < %v", s.labels["le"], s.value, prev)
			}
			prev = s.value
			n++
		}
	}
	if sum, _ := metric(samples, "hooktap_delivery_duration_seconds_sum", ops); n < 2 || sum <= 0 || sum > 50 {
		t.Errorf("%d buckets, sum %v", n, sum)
	}
}

// TestTeamBannerPasted: the relay's team-mode banner gives a channels
// create command that works pasted in another shell. With the token from
// --admin-token, the banner says to set HOOKTAP_ADMIN_TOKEN there (never
// printing the token); without it, channels says both ways in one line.
func TestTeamBannerPasted(t *testing.T) {
	relayProc, _ := startRelay(t, "--admin-token", teamAdmin)
	_, cmd, ok := strings.Cut(relayProc.line(t, "team mode: create channels with "), "team mode: create channels with ")
	if !ok {
		t.Fatal("no command")
	}
	hint := relayProc.line(t, "")
	if !strings.Contains(hint, "set HOOKTAP_ADMIN_TOKEN to the token given with --admin-token") || strings.Contains(hint, teamAdmin) {
		t.Fatalf("the line after the command: %q", hint)
	}
	cmd = strings.Replace(cmd, " NAME ", " pasted ", 1)
	paste := func(env ...string) (string, error) {
		sh := exec.Command("sh", "-c", cmd)
		sh.Env = append(append(os.Environ(), hooktapTestEnv(t)...), env...)
		out, err := sh.CombinedOutput()
		return string(out), err
	}
	out, err := paste()
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if err == nil || len(lines) != 1 || !strings.Contains(out, "set HOOKTAP_ADMIN_TOKEN") || !strings.Contains(out, "--admin-token TOKEN") {
		t.Errorf("pasted %q without the variable: %v\n%s", cmd, err, out)
	}
	if out, err := paste("HOOKTAP_ADMIN_TOKEN=" + teamAdmin); err != nil || !strings.Contains(out, "channel pasted created") {
		t.Errorf("pasted %q: %v\n%s", cmd, err, out)
	}

	// The token from the variable: the command works as printed in a shell
	// that has it, and there is nothing more to say.
	envRelay := startProcEnv(t, []string{"HOOKTAP_ADMIN_TOKEN=" + teamAdmin}, "relay", "--addr", "127.0.0.1:0", "--data", t.TempDir())
	envRelay.line(t, "team mode: create channels with ")
	if next := envRelay.line(t, ""); !strings.HasPrefix(strings.TrimSpace(next), "metrics: ") {
		t.Errorf("after the command: %q", next)
	}
}
