package main

import (
	"context"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hooktap/hooktap/inspector/live"
)

// TestConnLinesOncePerChange: each heartbeat republishes the connected
// state with its round trip; listen --json printed a connection line for
// every one (one every --heartbeat, for ever), where the README promises
// a line each time the state changes.
func TestConnLinesOncePerChange(t *testing.T) {
	relay := "http://127.0.0.1:8789"
	up := func(rtt time.Duration) live.Event {
		return live.Event{Kind: live.EventRelay, Relay: live.RelayStatus{State: live.StateConnected, Relay: relay,
			URL: relay + "/h/ci", Heartbeat: time.Now(), RTT: rtt}}
	}
	var b strings.Builder
	r := newReporter(&b, true, "a.db")
	for _, ev := range []live.Event{
		{Kind: live.EventRelay, Relay: live.RelayStatus{State: live.StateConnecting, Relay: relay}},
		up(time.Millisecond), up(2 * time.Millisecond), up(3 * time.Millisecond),
		{Kind: live.EventRelay, Relay: live.RelayStatus{State: live.StateReconnecting, Relay: relay, Reason: "the relay stopped answering"}},
		up(time.Millisecond), up(time.Millisecond),
	} {
		r.report(ev)
	}
	var states []string
	for _, l := range strings.Split(strings.TrimSpace(b.String()), "\n") {
		if i := strings.Index(l, `"state":"`); i >= 0 {
			states = append(states, strings.Split(l[i+9:], `"`)[0])
		}
	}
	if got, want := strings.Join(states, " "), "connecting connected reconnecting connected"; got != want {
		t.Fatalf("connection lines %q, want %q:\n%s", got, want, b.String())
	}
}

// TestTriggerFixtureNothingToDo: trigger --from with no id sent nothing
// and exited 0; --set on a fixture none of whose steps is a JSON object
// was dropped without a word. Both are one-line usage errors.
func TestTriggerFixtureNothingToDo(t *testing.T) {
	app := newVerifyingApp(t, "")
	_, _, err := evRun(t, "", "trigger", "--from", " , ", "--db", evStore(t), "--to", app.URL)
	if !isUsage(err) || !strings.Contains(err.Error(), "--from needs") {
		t.Errorf("--from ' , ': %v", err)
	}
	file := filepath.Join(t.TempDir(), "form.json")
	fx := `{"format":"hooktap-fixture/1","steps":[{"method":"POST","body_text":"a=1&b=2"}]}`
	if err := os.WriteFile(file, []byte(fx), 0o644); err != nil {
		t.Fatal(err)
	}
	_, _, err = evRun(t, "", "trigger", "--fixture", file, "--to", app.URL, "--set", "object.status=paid")
	if !isUsage(err) || !strings.Contains(err.Error(), "--set") {
		t.Errorf("--set on a form body: %v", err)
	}
	if got, bad := app.got(); len(got)+bad != 0 {
		t.Errorf("the app got %d requests", len(got)+bad)
	}
}

func isUsage(err error) bool {
	var ue usageError
	return errors.As(err, &ue)
}

// TestKeptForAgentAcrossRelayCrash: a delivery no connected agent's filter
// matches is answered 202 "kept for those that do"; a relay killed right
// after that answer must still hand it to the agent whose filter matches
// when that agent connects to the restarted relay. The claim row used to be
// written 25 ms later, and a crash in between lost the delivery for good.
func TestKeptForAgentAcrossRelayCrash(t *testing.T) {
	data := t.TempDir()
	relayAt := func(addr string) (*proc, string) {
		p := startProc(t, "relay", "--addr", addr, "--data", data)
		l := p.line(t, "listening on ")
		return p, "http://" + strings.Fields(l[strings.Index(l, "listening on ")+len("listening on "):])[0]
	}
	relay1, url1 := relayAt("127.0.0.1:0")
	alice := newActionApp(t, "alice")
	a := startProc(t, listenArgs(url1, "shared", alice.srv.URL, filepath.Join(t.TempDir(), "a.db"), "--entity-id", "ent_1")...)
	a.line(t, `"ready"`)

	body := `{"id":"evt_c","action":"payable.created","object_type":"payable","entity_id":"ent_c"}`
	resp, err := http.Post(url1+"/h/shared", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	answer, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	relay1.cmd.Process.Kill() // at once: no flush, no goodbye
	if resp.StatusCode != http.StatusAccepted || !strings.Contains(string(answer), "kept for those that do") {
		t.Fatalf("sender got %d %s", resp.StatusCode, answer)
	}
	<-relay1.done
	relay1.done <- nil // for Cleanup

	// The relay comes back where it was; alice's agent reconnects and
	// passes the delivery (not hers) before carol's first connects.
	relayAt(strings.TrimPrefix(url1, "http://"))
	a.line(t, `"reconnecting"`)
	a.line(t, `"connected"`)
	if code, answer := sendEvent(t, http.DefaultClient, url1+"/h/shared", "evt_a", "payable.created"); code != http.StatusOK {
		t.Fatalf("evt_a: %d %s", code, answer)
	}
	alice.waitEvents(t, "evt_a")
	carol := newActionApp(t, "carol")
	c := startProc(t, listenArgs(url1, "shared", carol.srv.URL, filepath.Join(t.TempDir(), "c.db"), "--entity-id", "ent_c")...)
	c.line(t, `"ready"`)
	carol.waitEvents(t, "evt_c")
	if got := alice.events(); len(got) != 1 {
		t.Errorf("alice got %v", got)
	}
}

// TestWaitInterrupted: ctrl-C on hooktap wait said "context canceled".
func TestWaitInterrupted(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	var out, errOut strings.Builder
	err := run(ctx, []string{"wait", "--db", evStore(t), "--for", "payable.paid"}, strings.NewReader(""), &out, &errOut)
	if err == nil || err.Error() != "interrupted before a delivery for payable.paid was recorded" {
		t.Errorf("err = %v", err)
	}
}
