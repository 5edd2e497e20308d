package main

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// The provider emulator as a developer runs it: the real binary, a Monite
// client in plain net/http, an app with its own signature check.

// startProvider runs `hooktap provider` on a free port and returns the
// API's base URL (…/v1).
func startProvider(t *testing.T, data string, extra ...string) (*proc, string) {
	t.Helper()
	p := startProc(t, append([]string{"provider", "--addr", "127.0.0.1:0", "--data", data}, extra...)...)
	l := p.line(t, "listening on ")
	addr := strings.Fields(l[strings.Index(l, "listening on ")+len("listening on "):])[0]
	return p, "http://" + addr + "/v1"
}

// moniteCall is one API call with plain net/http; it returns the status
// and decodes the JSON answer into out.
func moniteCall(t *testing.T, method, url string, body any, out any) int {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, url, rd)
	req.Header.Set("Authorization", "Bearer partner-token")
	req.Header.Set("x-monite-version", "2024-05-25")
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if out != nil && len(raw) > 0 {
		if err := json.Unmarshal(raw, out); err != nil {
			t.Fatalf("%s %s: %d %s", method, url, resp.StatusCode, raw)
		}
	}
	return resp.StatusCode
}

type moniteLog struct {
	Data []struct {
		ID                 string `json:"id"`
		RequestsMadeCount  int    `json:"requests_made_count"`
		ResponseStatusCode *int   `json:"response_status_code"`
		WasSuccessful      bool   `json:"was_successful"`
	} `json:"data"`
}

// signedApp answers from a script of status codes and checks each
// request's Monite-Signature with the secret it is given, in its own code.
type signedApp struct {
	*httptest.Server
	mu      sync.Mutex
	secret  string
	script  []int
	got     []bool // whether each request verified
	stamps  []int64
	arrived chan struct{}
}

func newSignedApp(t *testing.T, script ...int) *signedApp {
	a := &signedApp{script: script, arrived: make(chan struct{}, 64)}
	a.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		a.mu.Lock()
		ts, ok := appVerify(r.Header.Get("Monite-Signature"), body, a.secret)
		a.got, a.stamps = append(a.got, ok), append(a.stamps, ts)
		status := 200
		if len(a.script) > 0 {
			status, a.script = a.script[0], a.script[1:]
		}
		a.mu.Unlock()
		w.WriteHeader(status)
		a.arrived <- struct{}{}
	}))
	t.Cleanup(a.Close)
	return a
}

func (a *signedApp) wait(t *testing.T, n int) {
	t.Helper()
	for a.count() < n {
		select {
		case <-a.arrived:
		case <-time.After(20 * time.Second):
			t.Fatalf("the app got %d requests, want %d", a.count(), n)
		}
	}
}

func (a *signedApp) count() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.got)
}

// appVerify is what a developer's handler does with Monite-Signature:
// t=<unix>,v1=<hex HMAC-SHA256(secret, "t.body")>, 300 s tolerance.
func appVerify(header string, body []byte, secret string) (int64, bool) {
	var ts int64
	var sig string
	for _, part := range strings.Split(header, ",") {
		k, v, _ := strings.Cut(part, "=")
		switch k {
		case "t":
			ts, _ = strconv.ParseInt(v, 10, 64)
		case "v1":
			sig = v
		}
	}
	mac := hmac.New(sha256.New, []byte(secret))
	fmt.Fprintf(mac, "%d.%s", ts, body)
	age := time.Since(time.Unix(ts, 0))
	return ts, secret != "" && hmac.Equal([]byte(sig), []byte(hex.EncodeToString(mac.Sum(nil)))) && age < 300*time.Second && age > -300*time.Second
}

// TestProviderKill9LosesNoRetry kills the emulator with SIGKILL between
// two attempts of a delivery; started again on the same data, it makes the
// retry, and the log shows both attempts.
func TestProviderKill9LosesNoRetry(t *testing.T) {
	data := t.TempDir()
	app := newSignedApp(t, 500, 200)
	p1, api := startProvider(t, data, "--retry-schedule", "3s,3s", "--verbose")
	var sub struct{ ID, Secret string }
	if code := moniteCall(t, "POST", api+"/webhook_subscriptions", map[string]any{"object_type": "payable", "url": app.URL + "/hooks"}, &sub); code != 201 {
		t.Fatalf("create: %d", code)
	}
	// The app's .env gets the secret from hooktap provider secrets.
	out, errOut, code := hooktapOut(t, nil, "provider", "secrets", "--data", data)
	fields := strings.Fields(out)
	if code != 0 || len(fields) < 1 || fields[0] != sub.Secret || !strings.Contains(out, sub.ID) {
		t.Fatalf("provider secrets: %d %q %s", code, out, errOut)
	}
	app.mu.Lock()
	app.secret = fields[0]
	app.mu.Unlock()

	out, errOut, code = hooktapOut(t, nil, "trigger", "payable.created", "--provider", strings.TrimSuffix(api, "/v1"))
	if code != 0 || !strings.Contains(out, "1 delivery") || !strings.Contains(out, sub.ID) {
		t.Fatalf("trigger --provider: %d %q %s", code, out, errOut)
	}
	app.wait(t, 1)
	var log moniteLog
	deadline := time.Now().Add(10 * time.Second)
	for moniteCall(t, "GET", api+"/webhook_deliveries", nil, &log); len(log.Data) != 1 || log.Data[0].RequestsMadeCount != 1; moniteCall(t, "GET", api+"/webhook_deliveries", nil, &log) {
		if time.Now().After(deadline) {
			t.Fatalf("attempt 1 not in the log: %+v", log)
		}
		time.Sleep(20 * time.Millisecond)
	}
	p1.cmd.Process.Kill() // SIGKILL: no chance to save anything
	<-p1.done
	p1.done <- nil
	if log := p1.stderr.String(); !strings.Contains(log, "delivery attempt") || strings.Contains(log, sub.Secret) {
		t.Fatalf("the verbose log should tell the attempt and never the secret:\n%s", log)
	}

	_, api = startProvider(t, data, "--retry-schedule", "3s,3s")
	app.wait(t, 2)
	deadline = time.Now().Add(10 * time.Second)
	for moniteCall(t, "GET", api+"/webhook_deliveries", nil, &log); len(log.Data) != 1 || !log.Data[0].WasSuccessful; moniteCall(t, "GET", api+"/webhook_deliveries", nil, &log) {
		if time.Now().After(deadline) {
			t.Fatalf("the retry after the restart is not in the log: %+v", log)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if l := log.Data[0]; l.RequestsMadeCount != 2 || *l.ResponseStatusCode != 200 {
		t.Fatalf("log: %+v", l)
	}
	app.mu.Lock()
	defer app.mu.Unlock()
	if len(app.got) != 2 || !app.got[0] || !app.got[1] || app.stamps[0] == app.stamps[1] {
		t.Fatalf("app saw %d requests, verified %v, timestamps %v", len(app.got), app.got, app.stamps)
	}
}

// TestDevProviderEndToEnd is the whole loop in one hooktap dev: a Monite
// client subscribes to the webhook URL at the printed API, the app takes
// its secret from hooktap provider secrets, and an event travels emulator →
// relay → agent → app, retried through the tunnel when the app fails once.
func TestDevProviderEndToEnd(t *testing.T) {
	app := newSignedApp(t, 500, 200)
	pdata := t.TempDir()
	agentDB := t.TempDir() + "/agent.db"
	dev := startProc(t, "dev", "--addr", "127.0.0.1:0", "--forward-to", app.URL+"/webhooks", "--db", agentDB,
		"--data", t.TempDir(), "--provider-data", pdata, "--no-web", "--json", "--print-secret", "--retry-schedule", "1500ms")
	var ready struct {
		URL         string `json:"url"`
		ProviderAPI string `json:"provider_api"`
	}
	if err := json.Unmarshal([]byte(dev.line(t, `"type":"ready"`)), &ready); err != nil || ready.ProviderAPI == "" ||
		ready.ProviderAPI != strings.TrimSuffix(ready.URL, "/h/dev")+"/v1" {
		t.Fatalf("ready line: %+v %v", ready, err)
	}
	var sub struct{ ID, Secret, URL string }
	if code := moniteCall(t, "POST", ready.ProviderAPI+"/webhook_subscriptions",
		map[string]any{"object_type": "payable", "url": ready.URL + "/billing", "event_types": []string{"created"}}, &sub); code != 201 {
		t.Fatalf("create: %d", code)
	}
	var printed struct{ Secret, URL string }
	json.Unmarshal([]byte(dev.line(t, `"type":"secret"`)), &printed)
	out, errOut, code := hooktapOut(t, nil, "provider", "secrets", "--data", pdata, "--json")
	var listed struct{ ID, Secret string }
	json.Unmarshal([]byte(out), &listed)
	if code != 0 || listed.ID != sub.ID || listed.Secret != sub.Secret || printed.Secret != sub.Secret || printed.URL != sub.URL {
		t.Fatalf("secrets: provider secrets %d %q %s; dev printed %+v", code, out, errOut, printed)
	}
	app.mu.Lock()
	app.secret = listed.Secret
	app.mu.Unlock()

	var emitted struct{ Deliveries []struct{ ID string } }
	if code := moniteCall(t, "POST", ready.ProviderAPI+"/_emulator/events", map[string]any{"action": "payable.created"}, &emitted); code != 201 || len(emitted.Deliveries) != 1 {
		t.Fatalf("emit: %d %+v", code, emitted)
	}
	app.wait(t, 2)
	for i := range 2 {
		var d struct {
			ID, Type, Action, Signature string
			Status                      int
		}
		json.Unmarshal([]byte(dev.line(t, `"type":"delivery"`)), &d)
		if d.Action != "payable.created" || d.Signature != "valid" || d.Status != []int{500, 200}[i] {
			t.Fatalf("agent's delivery %d: %+v (the agent should know the subscription's secret)", i+1, d)
		}
		// The store, which the TUI and web inspector show, says which
		// subscription and which attempt it was.
		out, errOut, code := hooktapOut(t, nil, "events", "show", d.ID, "--json", "--db", agentDB)
		var shown struct {
			Header map[string][]string `json:"headers"`
		}
		json.Unmarshal([]byte(out), &shown)
		if code != 0 || fmt.Sprint(shown.Header["X-Hooktap-Attempt"]) != fmt.Sprintf("[%d]", i+1) || fmt.Sprint(shown.Header["X-Hooktap-Subscription-Id"]) != "["+sub.ID+"]" {
			t.Fatalf("events show %s: %d %s %s", d.ID, code, out, errOut)
		}
	}
	var log moniteLog
	deadline := time.Now().Add(10 * time.Second)
	for moniteCall(t, "GET", ready.ProviderAPI+"/webhook_deliveries", nil, &log); len(log.Data) != 1 || !log.Data[0].WasSuccessful; moniteCall(t, "GET", ready.ProviderAPI+"/webhook_deliveries", nil, &log) {
		if time.Now().After(deadline) {
			t.Fatalf("log: %+v", log)
		}
		time.Sleep(20 * time.Millisecond)
	}
	app.mu.Lock()
	defer app.mu.Unlock()
	if log.Data[0].RequestsMadeCount != 2 || !app.got[0] || !app.got[1] || app.stamps[0] == app.stamps[1] {
		t.Fatalf("log %+v; app verified %v with timestamps %v", log.Data[0], app.got, app.stamps)
	}
}

// TestDevProviderLocalhostURL: a Monk subscription (whose body names no
// subscription) to the webhook URL spelled with localhost instead of the
// printed 127.0.0.1 still shows its signature valid in hooktap dev, with
// no --secret: the agent finds the secret by the subscription the
// delivery's X-Hooktap-Subscription-Id names.
func TestDevProviderLocalhostURL(t *testing.T) {
	app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer app.Close()
	dev := startProc(t, "dev", "--addr", "127.0.0.1:0", "--forward-to", app.URL, "--db", t.TempDir()+"/agent.db",
		"--data", t.TempDir(), "--provider-data", t.TempDir(), "--no-web", "--json", "--provider-flavor", "monk")
	var ready struct {
		URL         string `json:"url"`
		ProviderAPI string `json:"provider_api"`
	}
	if err := json.Unmarshal([]byte(dev.line(t, `"type":"ready"`)), &ready); err != nil || !strings.Contains(ready.URL, "127.0.0.1") {
		t.Fatalf("ready line: %+v %v", ready, err)
	}
	hook := strings.Replace(ready.URL, "127.0.0.1", "localhost", 1) + "/monk"
	if code := moniteCall(t, "POST", ready.ProviderAPI+"/webhook_subscriptions", map[string]any{"object_type": "invoice", "url": hook}, nil); code != 201 {
		t.Fatalf("create: %d", code)
	}
	if code := moniteCall(t, "POST", ready.ProviderAPI+"/_emulator/events", map[string]any{"action": "invoice.created"}, nil); code != 201 {
		t.Fatalf("emit: %d", code)
	}
	var d struct{ Action, Signature string }
	json.Unmarshal([]byte(dev.line(t, `"type":"delivery"`)), &d)
	if d.Action != "invoice.created" || d.Signature != "valid" {
		t.Fatalf("agent's delivery: %+v (the agent should know the secret of the subscription to %s)", d, hook)
	}
}

// TestPointsAt: --print-secret prints the secret of a subscription to the
// webhook URL however its loopback host is spelled, and of nothing else.
func TestPointsAt(t *testing.T) {
	const hook = "http://127.0.0.1:8789/h/dev"
	for u, want := range map[string]bool{
		hook: true, hook + "/billing": true, hook + "?a=1": true,
		"http://localhost:8789/h/dev": true, "http://LOCALHOST:8789/h/dev/x": true, "http://[::1]:8789/h/dev": true,
		"http://127.0.0.1:8789/h/devx": false, "http://localhost:8790/h/dev": false, "https://localhost:8789/h/dev": false,
		"http://example.com:8789/h/dev": false, "http://127.0.0.1:8789/h/other": false,
	} {
		if got := pointsAt(u, hook); got != want {
			t.Errorf("pointsAt(%q) = %v, want %v", u, got, want)
		}
	}
}
