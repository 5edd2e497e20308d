package main

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/hooktap/hooktap/relay"
)

// The first minutes with the real binary: what listen and dev say about
// the app and the relay connection, and the commands they print to try a
// first webhook.

// appOn serves 200 on addr until the test ends.
func appOn(t *testing.T, addr string) {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	s := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {})}
	go s.Serve(ln)
	t.Cleanup(func() { s.Close() })
}

// listenCmd is listen's command line, with extra flags only; with no web
// inspector unless extra asks for one (--web).
func listenCmd(relayURL, channel, forward, db string, extra ...string) []string {
	args := append([]string{"listen", "--relay", relayURL, "--channel", channel, "--forward-to", forward, "--db", db}, extra...)
	for _, a := range extra {
		if a == "--web" || strings.HasPrefix(a, "--web=") || a == "--no-web" {
			return args
		}
	}
	return append(args, "--no-web")
}

// stderrOf is what p wrote to stderr so far.
func stderrOf(p *proc) string {
	lw := p.cmd.Stderr.(*lockedWriter)
	lw.mu.Lock()
	defer lw.mu.Unlock()
	return p.stderr.String()
}

// stderrLine waits until p's stderr has a match of re and returns its first group.
func stderrLine(t *testing.T, p *proc, re *regexp.Regexp) string {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if m := re.FindStringSubmatch(stderrOf(p)); m != nil {
			return m[1]
		}
		time.Sleep(20 * time.Millisecond) // a pipe into a buffer: nothing to wait on
	}
	t.Fatalf("stderr has no %s:\n%s", re, stderrOf(p))
	return ""
}

var webLine = regexp.MustCompile(`Web inspector  (http://\S+)`)

// TestProcessAppNotListening: listen says at start that nothing listens on
// the forward target, in words and as a JSON line and in /api/status,
// and says it again when the app comes up.
func TestProcessAppNotListening(t *testing.T) {
	_, relayURL := startRelay(t)
	addr := freeAddr(t)
	target := "http://" + addr + "/webhooks"
	human := startProc(t, listenCmd(relayURL, "app1", target, filepath.Join(t.TempDir(), "a.db"), "--no-tui", "--no-web")...)
	jsonl := startProc(t, listenCmd(relayURL, "app2", target, filepath.Join(t.TempDir(), "b.db"), "--json", "--web", "127.0.0.1:0")...)

	problem := "nothing is listening on " + addr + " — start your app, or point hooktap at it with --forward-to URL (make run FORWARD_TO=URL)"
	human.line(t, problem)
	type appJSON struct {
		Type      string
		Listening bool
		Target    string
		Reason    string
	}
	var down appJSON
	if err := json.Unmarshal([]byte(jsonl.line(t, `"type":"app"`)), &down); err != nil || down.Listening || down.Target != target ||
		down.Reason != "nothing is listening on "+addr {
		t.Fatalf("app line %+v %v", down, err)
	}
	if ready := jsonl.line(t, `"type":"ready"`); !strings.Contains(ready, `"app_listening":false,"app_problem":"nothing is listening on `+addr+`"`) {
		t.Errorf("ready line %s does not say the app is not listening", ready)
	}
	status := func() map[string]any {
		resp, err := http.Get(stderrLine(t, jsonl, webLine) + "/api/status")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var st struct{ App map[string]any }
		if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
			t.Fatal(err)
		}
		return st.App
	}
	if app := status(); app["listening"] != false || app["problem"] != problem {
		t.Errorf("/api/status app %v", app)
	}

	appOn(t, addr)
	human.line(t, "your app is listening on "+addr)
	var up appJSON
	if err := json.Unmarshal([]byte(jsonl.line(t, `"type":"app"`)), &up); err != nil || !up.Listening {
		t.Fatalf("app line %+v %v", up, err)
	}
	// The web page's state and the JSON lines follow the same event, each
	// on its own: the page may take a moment longer.
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		app := status()
		if app["listening"] == true {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("/api/status app %v", app)
		}
	}
}

// TestProcessTryItBanner pastes the curl and trigger commands of dev's
// banner into sh, as a user would, and sees both deliveries arrive.
func TestProcessTryItBanner(t *testing.T) {
	app := newRecordingApp(t, nil)
	dev := startProc(t, "dev", "--no-tui", "--no-web", "--addr", "127.0.0.1:0", "--data", t.TempDir(),
		"--db", filepath.Join(t.TempDir(), "dev.db"), "--forward-to", app.URL+"/webhooks")
	dev.line(t, "Send a test webhook:")
	curl := pasted(t, dev)
	dev.line(t, "or a realistic Monite payload")
	trigger := pasted(t, dev)
	// The binary is not on PATH (as make run's bin/hooktap): the banner
	// names it by the path it was started by.
	if !strings.HasPrefix(curl, "curl ") || !strings.HasPrefix(trigger, hooktapBin(t)+" trigger payable.created --to '") {
		t.Fatalf("banner commands %q and %q", curl, trigger)
	}

	sh := func(cmd string) {
		c := exec.Command("sh", "-c", cmd)
		c.Env = append(os.Environ(), "HOOKTAP_SECRET=")
		if out, err := c.CombinedOutput(); err != nil {
			t.Fatalf("sh -c %q: %v\n%s", cmd, err, out)
		}
	}
	sh(curl)
	dev.line(t, "payable.created")
	sh(trigger)
	dev.line(t, "payable.created")
	reqs := app.requests()
	if len(reqs) != 2 || string(reqs[0].Body) != `{"action":"payable.created","object":{"id":"pay_1"}}` ||
		!strings.Contains(string(reqs[1].Body), `"payable.created"`) {
		t.Fatalf("the app got %d requests: %+v", len(reqs), reqs)
	}
}

// TestProcessTryItBannerFiltered: with --events, the banner's curl and
// trigger send an event the filter takes (a Monk invoice event here), so
// that, pasted, they reach the app instead of staying on the relay.
func TestProcessTryItBannerFiltered(t *testing.T) {
	app := newRecordingApp(t, nil)
	dev := startProc(t, "dev", "--no-tui", "--no-web", "--addr", "127.0.0.1:0", "--data", t.TempDir(),
		"--db", filepath.Join(t.TempDir(), "dev.db"), "--forward-to", app.URL+"/webhooks", "--events", "invoice.*")
	dev.line(t, "Send a test webhook:")
	curl := pasted(t, dev)
	dev.line(t, "or a realistic Monk payload")
	trigger := pasted(t, dev)
	for _, cmd := range []string{curl, trigger} {
		c := exec.Command("sh", "-c", cmd)
		c.Env = append(os.Environ(), "HOOKTAP_SECRET=")
		if out, err := c.CombinedOutput(); err != nil {
			t.Fatalf("sh -c %q: %v\n%s", cmd, err, out)
		}
		select {
		case req := <-app.got:
			if !strings.Contains(string(req.Body), "invoice.created") && req.Header.Get("X-Monk-Event") != "invoice.created" {
				t.Fatalf("%q: the app got %s %s", cmd, req.Header, req.Body)
			}
		case <-time.After(20 * time.Second):
			t.Fatalf("pasted %q: the app got nothing", cmd)
		}
	}
}

// TestWebTryItFiltered: the web page's first screen offers, as the
// banner does, commands for an event the agent's filter takes.
func TestWebTryItFiltered(t *testing.T) {
	dev := startProc(t, "dev", "--no-tui", "--web", "127.0.0.1:0", "--addr", "127.0.0.1:0", "--data", t.TempDir(),
		"--db", filepath.Join(t.TempDir(), "dev.db"), "--forward-to", "http://127.0.0.1:1/webhooks", "--events", "invoice.*", "--no-provider")
	dev.line(t, "Send a test webhook:")
	resp, err := http.Get(stderrLine(t, dev, webLine) + "/api/status")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var st struct {
		Conn struct {
			TryCurl    string `json:"try_curl"`
			TryTrigger string `json:"try_trigger"`
		} `json:"conn"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(st.Conn.TryCurl, "invoice.created") || !strings.Contains(st.Conn.TryTrigger, " trigger invoice.created --to ") {
		t.Errorf("web first screen offers %q and %q to an invoice.* agent", st.Conn.TryCurl, st.Conn.TryTrigger)
	}
}

// TestExampleFor: the banner's example is one the filter takes, or says
// that it is not.
func TestExampleFor(t *testing.T) {
	for _, c := range []struct {
		filter           relay.Filter
		action           string
		trigger, matches bool
	}{
		{relay.Filter{}, "payable.created", true, true},
		{relay.Filter{Events: []string{"counterpart.*"}}, "counterpart.created", true, true},
		{relay.Filter{ObjectTypes: []string{"receipt"}}, "receipt.created", true, true},
		{relay.Filter{Events: []string{"shipment.sent"}}, "shipment.sent", false, true},
		{relay.Filter{Events: []string{"shipment.*"}}, "payable.created", true, false},
	} {
		x := exampleFor(c.filter)
		if x.action != c.action || x.trigger != c.trigger || x.matches != c.matches {
			t.Errorf("%+v: %+v", c.filter, x)
		}
	}
	x := exampleFor(relay.Filter{EntityIDs: []string{"ent_1"}})
	if !strings.Contains(x.curl("http://h/h/c"), `"entity_id":"ent_1"`) || !strings.HasSuffix(x.triggerCommand("http://h/h/c"), " --entity-id 'ent_1'") {
		t.Errorf("entity filter: %s / %s", x.curl("http://h/h/c"), x.triggerCommand("http://h/h/c"))
	}
}

// TestPrintedCommandOnPath: a hooktap that PATH finds is named hooktap in
// the commands it prints.
func TestPrintedCommandOnPath(t *testing.T) {
	out, _, _ := hooktapOut(t, []string{"PATH=" + filepath.Dir(hooktapBin(t)) + ":" + os.Getenv("PATH")}, "trigger", "--list")
	if !strings.HasSuffix(out, "Send one with: hooktap trigger payable.created\n") {
		t.Errorf("trigger --list with hooktap on PATH ends %q", out[max(0, len(out)-80):])
	}
	out, _, _ = hooktapOut(t, nil, "trigger", "--list")
	if !strings.HasSuffix(out, "Send one with: "+hooktapBin(t)+" trigger payable.created\n") {
		t.Errorf("trigger --list with hooktap not on PATH ends %q", out[max(0, len(out)-80):])
	}
}

// pasted is the command on p's next lines: from the first non-empty one
// through its last continued line, unindented.
func pasted(t *testing.T, p *proc) string {
	t.Helper()
	var cmd []string
	for {
		l := strings.TrimSpace(p.line(t, ""))
		if l == "" && len(cmd) == 0 {
			continue
		}
		cmd = append(cmd, l)
		if !strings.HasSuffix(l, `\`) {
			return strings.Join(cmd, "\n")
		}
	}
}

// nextConnection reads p's JSON lines of type connection until one with
// state want, and returns it.
func nextConnection(t *testing.T, p *proc, want string) map[string]any {
	t.Helper()
	for {
		var l map[string]any
		if err := json.Unmarshal([]byte(p.line(t, `"type":"connection"`)), &l); err != nil {
			t.Fatal(err)
		}
		if l["state"] == want {
			return l
		}
	}
}

// TestProcessConnectionLines: listen --json prints the relay connection's
// states as they change (connecting, reconnecting with the reason and
// when it retries, connected); --no-tui says each change once in words,
// "never connected" before the first connection and "lost" after.
func TestProcessConnectionLines(t *testing.T) {
	addr := freeAddr(t)
	relayURL := "http://" + addr
	app := newRecordingApp(t, nil)
	jsonl := startProc(t, listenCmd(relayURL, "c1", app.URL, filepath.Join(t.TempDir(), "a.db"), "--json", "--no-web")...)
	human := startProc(t, listenCmd(relayURL, "c2", app.URL, filepath.Join(t.TempDir(), "b.db"), "--no-tui", "--no-web")...)

	nextConnection(t, jsonl, "connecting")
	l := nextConnection(t, jsonl, "reconnecting")
	if l["reason"] != "connection refused" || l["relay"] != relayURL {
		t.Errorf("reconnecting line %v", l)
	}
	if in, ok := l["retry_in"].(float64); !ok || in <= 0 || in > 30 {
		t.Errorf("retry_in %v", l["retry_in"])
	}
	human.line(t, "connecting to relay "+relayURL)
	never := human.line(t, "cannot connect to relay")
	if !strings.Contains(never, "(connection refused)") || !strings.Contains(never, "never connected") || strings.Contains(never, "lost") {
		t.Errorf("before any connection: %q", never)
	}
	// A few more attempts fail (the agent logs an error after three):
	// they are the same state, said once.
	stderrLine(t, human, regexp.MustCompile(`(keeps failing)`))

	relay := startProc(t, "relay", "--addr", addr, "--data", t.TempDir())
	relay.line(t, "listening on ")
	nextConnection(t, jsonl, "connected")
	jsonl.line(t, `"type":"ready"`)
	for {
		l := human.line(t, "")
		if strings.Contains(l, "cannot connect") || strings.Contains(l, "still unreachable") {
			t.Errorf("a failed attempt said again: %q", l)
		}
		if strings.Contains(l, "hooktap is ready") {
			break
		}
	}

	relay.stop(t)
	lost := human.line(t, "relay connection lost")
	if !strings.Contains(lost, "reconnecting") {
		t.Errorf("after the relay went: %q", lost)
	}
	if l := nextConnection(t, jsonl, "reconnecting"); l["reason"] == "" {
		t.Errorf("reconnecting without a reason: %v", l)
	}
}

// TestProcessNotARelay: a --relay URL whose server is not a relay (a web
// server answering 200, or 404) makes listen exit 1 at once and say so,
// with a refused connection line in --json.
func TestProcessNotARelay(t *testing.T) {
	for _, code := range []int{200, 404} {
		web := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(code) }))
		defer web.Close()
		stdout, stderr, exit := hooktapOut(t, nil, listenCmd(web.URL, "x", "http://127.0.0.1:1", filepath.Join(t.TempDir(), "a.db"), "--json", "--no-web")...)
		want := fmt.Sprintf("%s is not a hooktap relay: it answered %d %s", web.URL, code, http.StatusText(code))
		if exit != 1 || !strings.Contains(stderr, want) || strings.Count(strings.TrimSpace(stderr), "\n") != 0 {
			t.Errorf("%d: exit %d, stderr %q, want one line with %q", code, exit, stderr, want)
		}
		if !strings.Contains(stdout, `"type":"connection","state":"refused"`) || !strings.Contains(stdout, "is not a hooktap relay") {
			t.Errorf("%d: stdout %q", code, stdout)
		}
	}
}
