package main

import (
	"errors"
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
