package main

import (
	"encoding/json"
	"net/http"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestNoTUISecondInterruptQuitsNow: with --no-tui (and --json), SIGINT
// while the app holds a delivery says what the agent waits for, a second
// SIGINT exits 130 at once, what was recorded before stays in the store,
// and the held delivery, not acknowledged, reaches the app again when the
// agent runs next on the same store, as in the terminal UI
// (TestDevTUIBusyWebAndQuitInFlight).
func TestNoTUISecondInterruptQuitsNow(t *testing.T) {
	t.Run("listen", func(t *testing.T) {
		_, relayURL := startRelay(t)
		db := filepath.Join(t.TempDir(), "a.db")
		args := listenCmd(relayURL, "sigint", "", db, "--no-tui")
		secondInterrupt(t, relayURL+"/h/sigint", args, "hooktap is ready",
			func(t *testing.T, l string) {
				if !stoppingText.MatchString(l) {
					t.Errorf("stopping line %q", l)
				}
			})
	})
	t.Run("dev-json", func(t *testing.T) {
		db, data := filepath.Join(t.TempDir(), "dev.db"), t.TempDir()
		args := []string{"dev", "--forward-to", "", "--addr", "127.0.0.1:0", "--no-web", "--db", db, "--data", data, "--no-provider", "--json"}
		secondInterrupt(t, "", args, `"type":"ready"`,
			func(t *testing.T, l string) {
				var s struct {
					Type     string `json:"type"`
					InFlight int    `json:"in_flight"`
				}
				if err := json.Unmarshal([]byte(l), &s); err != nil || s.Type != "stopping" || s.InFlight < 1 || s.InFlight > 2 {
					t.Errorf("stopping line %q (%v)", l, err)
				}
			})
	})
}

// The answered delivery counts as in flight until its record is committed
// and acked, which under load can come after the signal: one or two.
var (
	stoppingText = regexp.MustCompile(`stopping: waiting for (1 delivery|2 deliveries) in flight to the app \(Ctrl-C again to quit now\)`)
	quitText     = regexp.MustCompile(`quit with (1 delivery|2 deliveries) in flight to the app, not acknowledged`)
)

// secondInterrupt runs the agent of args (its --forward-to left empty, for
// the app) twice on the same store. hook is the webhook URL, or "" to take
// it from the ready line; ready is the ready line's mark; stopping checks
// the line that the first SIGINT prints.
func secondInterrupt(t *testing.T, hook string, args []string, ready string, stopping func(*testing.T, string)) {
	app, got := slowApp(t)
	for i, a := range args {
		if a == "--forward-to" {
			args[i+1] = app
		}
	}
	p := startProc(t, args...)
	l := p.line(t, ready)
	if hook == "" {
		var r struct{ URL string }
		if err := json.Unmarshal([]byte(l), &r); err != nil {
			t.Fatalf("ready line %q: %v", l, err)
		}
		hook = r.URL
	}
	post := func(body string) {
		resp, err := http.Post(hook, "application/json", strings.NewReader(body))
		if err == nil {
			resp.Body.Close()
		}
	}
	go post(`{"action":"payable.created","marker":"in-flight"}`)
	appGot(t, got, "in-flight")
	// One the app answers at once: recorded before the interrupts.
	go post(`{"action":"payable.paid","marker":"answered"}`)
	appGot(t, got, "answered")
	p.line(t, "payable.paid")

	p.cmd.Process.Signal(syscall.SIGINT)
	stopping(t, p.line(t, "stopping"))
	quit := time.Now()
	p.cmd.Process.Signal(syscall.SIGINT)
	code := -1
	select {
	case err := <-p.done:
		p.done <- err // for Cleanup
		code = 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("no exit 30 s after the second SIGINT; stderr:\n%s", p.stderrText())
	}
	// The app still holds the request: nothing waited for it (the drain
	// waits up to 12 s).
	if took := time.Since(quit); code != 130 || took > 5*time.Second {
		t.Errorf("the second SIGINT: exit %d after %s, want 130 at once; stderr:\n%s", code, took.Round(time.Millisecond), p.stderrText())
	}
	if !quitText.MatchString(p.stderrText()) {
		t.Errorf("stderr does not say what was left:\n%s", p.stderrText())
	}
	db := args[len(args)-1]
	for i, a := range args {
		if a == "--db" {
			db = args[i+1]
		}
	}
	out, errOut, c := hooktapOut(t, nil, "events", "list", "--db", db, "--json")
	if c != 0 || !strings.Contains(out, `"action":"payable.paid"`) || !strings.Contains(out, `"status":200`) {
		t.Errorf("events list after the quit: exit %d, stdout:\n%s\nstderr: %s", c, out, errOut)
	}

	// Again, on the same store (and buffer): the relay sends it again.
	p = startProc(t, args...)
	appGot(t, got, "in-flight")
	p.stop(t)
}

// appGot waits for the app to get a body that contains marker.
func appGot(t *testing.T, got <-chan string, marker string) {
	t.Helper()
	select {
	case b := <-got:
		if !strings.Contains(b, marker) {
			t.Fatalf("app got %q, want %s", b, marker)
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("the app never got %s", marker)
	}
}
