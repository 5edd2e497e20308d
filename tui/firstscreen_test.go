package tui

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/charmbracelet/lipgloss"
	"github.com/charmbracelet/x/exp/golden"
	"github.com/charmbracelet/x/exp/teatest"
	"github.com/muesli/termenv"

	"github.com/hooktap/hooktap/inspector/live"
	"github.com/hooktap/hooktap/inspector/store"
)

// appDown is the health of an app that nothing listens for.
var appDown = live.AppHealth{Target: "http://localhost:3000/webhooks", Addr: "localhost:3000",
	Checked: true, Err: "connection refused", Since: base}

// firstScreenBus is the bus of an agent just connected, with an empty
// store, forwarding to an app that is not up.
func firstScreenBus(url string) *live.Bus {
	bus := live.NewBus()
	bus.Publish(live.Event{Kind: live.EventRelay, Relay: live.RelayStatus{State: live.StateConnected,
		Relay: "http://127.0.0.1:8789", URL: url, Target: appDown.Target}})
	bus.Publish(live.Event{Kind: live.EventApp, App: appDown})
	return bus
}

// TestGoldenFirstScreen is the first screen of `make run` before the app
// is up: the status line says nothing listens on the forward target, the
// empty list shows a curl and a trigger command to paste; once the app
// listens, the warning goes and the target turns green
// (testdata/TestGoldenFirstScreen/*.golden).
func TestGoldenFirstScreen(t *testing.T) {
	for _, size := range [][2]int{{80, 24}, {120, 30}} {
		w, h := size[0], size[1]
		t.Run(fmt.Sprintf("empty_%dx%d", w, h), func(t *testing.T) {
			s := openStore(t)
			opts := testOptions(s)
			opts.Bus = firstScreenBus("http://127.0.0.1:8789/h/dev")
			m := newModel(context.Background(), opts)
			defer m.Close()
			tm := teatest.NewTestModel(t, m, teatest.WithInitialTermSize(w, h))
			waitScreen(t, tm, "nothing is listening on localhost:3000", "--data-binary", "hooktap trigger payable.created")
			if err := tm.Quit(); err != nil {
				t.Fatal(err)
			}
			final := tm.FinalModel(t, teatest.WithFinalTimeout(patience)).(*Model)
			view := final.View()
			lines := strings.Split(view, "\n")
			if len(lines) != h {
				t.Errorf("view is %d lines, want %d", len(lines), h)
			}
			// Every line of the commands whole, not cut to the width.
			shown := map[string]bool{}
			for _, l := range lines {
				shown[strings.TrimRight(l, " ")] = true
			}
			for _, want := range append(strings.Split(store.ExampleCurl("http://127.0.0.1:8789/h/dev"), "\n"),
				store.ExampleTrigger("", "http://127.0.0.1:8789/h/dev")) {
				if !shown["    "+want] {
					t.Errorf("the empty list lacks the line %q:\n%s", want, view)
				}
			}
			status := lines[h-2]
			// The full advice does not fit beside the counts in 120
			// columns: the brief one does.
			if w >= 120 && !strings.Contains(status, appDown.Brief()) {
				t.Errorf("status line %q lacks %q", status, appDown.Brief())
			}
			if !strings.Contains(status, appDown.Short()) {
				t.Errorf("status line %q lacks %q", status, appDown.Short())
			}
			golden.RequireEqual(t, []byte(view))

			// Red while down; once the app listens, the warning goes and
			// the target turns green.
			lipgloss.SetColorProfile(termenv.TrueColor)
			defer lipgloss.SetColorProfile(termenv.Ascii)
			red := colorOf(final.styles.Offline) + "→ "
			if !strings.Contains(final.titleBar(), red) {
				t.Errorf("title %q lacks the target in red %q", final.titleBar(), red)
			}
			// An action's result shows over the warning, until the app's
			// state changes.
			final.status.say("replay → ERR connection refused", nil)
			if line := final.statusLine(); !strings.Contains(line, "replay → ERR") || strings.Contains(line, "nothing is listening") {
				t.Errorf("status line %q hides the action's result", line)
			}
			up := appDown
			up.Listening, up.Err = true, ""
			final.onEvent(live.Event{Kind: live.EventApp, App: up})
			if strings.Contains(final.View(), "nothing is listening") || strings.Contains(final.statusLine(), "replay → ERR") {
				t.Errorf("still warned, or an old message shown, after the app came up:\n%s", final.View())
			}
			green := colorOf(final.styles.Connected) + "→ "
			if !strings.Contains(final.titleBar(), green) {
				t.Errorf("title %q lacks the target in green %q", final.titleBar(), green)
			}
		})
	}
}

// colorOf is the escape sequence that starts text in style st.
func colorOf(st lipgloss.Style) string {
	before, _, _ := strings.Cut(st.Render("x"), "x")
	return before
}

// TestGoldenReconnecting shows why the agent is reconnecting, and when it
// tries again (testdata/TestGoldenReconnecting.golden).
func TestGoldenReconnecting(t *testing.T) {
	s := openStore(t)
	seed(t, s, 0, 40, "http://127.0.0.1:3000/webhooks/billing?src=test")
	bus := live.NewBus()
	bus.Publish(live.Event{Kind: live.EventRelay, Relay: live.RelayStatus{State: live.StateReconnecting,
		Relay: "http://127.0.0.1:8789", URL: "http://127.0.0.1:8789/h/dev", Target: "http://127.0.0.1:3000/webhooks",
		RetryAt: fixedNow().Add(3 * time.Second), Err: "connect to relay: dial tcp 127.0.0.1:8789: connect: connection refused",
		Reason: "connection refused"}})
	opts := testOptions(s)
	opts.Bus = bus
	m := newModel(context.Background(), opts)
	defer m.Close()
	tm := teatest.NewTestModel(t, m, teatest.WithInitialTermSize(100, 30))
	const want = "◌ reconnecting in 3s (connection refused)"
	waitScreen(t, tm, "09:30:14", want)
	if err := tm.Quit(); err != nil {
		t.Fatal(err)
	}
	view := tm.FinalModel(t, teatest.WithFinalTimeout(patience)).View()
	if !strings.Contains(strings.Split(view, "\n")[0], want) {
		t.Errorf("the title line lacks %q:\n%s", want, view)
	}
	golden.RequireEqual(t, []byte(view))
}

// TestEmptyListCurlRuns pastes the curl command the empty list shows into
// sh, as a user would, and sees the webhook arrive at the URL it names.
func TestEmptyListCurlRuns(t *testing.T) {
	got := make(chan *http.Request, 1)
	bodies := make(chan string, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got <- r
		bodies <- string(b)
	}))
	defer srv.Close()
	s := openStore(t)
	opts := testOptions(s)
	opts.Bus = firstScreenBus(srv.URL + "/h/dev")
	m := newModel(context.Background(), opts)
	defer m.Close()
	tm := teatest.NewTestModel(t, m, teatest.WithInitialTermSize(100, 30))
	waitScreen(t, tm, "--data-binary")
	if err := tm.Quit(); err != nil {
		t.Fatal(err)
	}
	view := tm.FinalModel(t, teatest.WithFinalTimeout(patience)).View()
	cmd := pastedCommand(t, view, "curl ")
	out, err := exec.Command("sh", "-c", cmd).CombinedOutput()
	if err != nil {
		t.Fatalf("sh -c %q: %v\n%s", cmd, err, out)
	}
	r := nextRequest(t, got)
	if r.Method != "POST" || r.URL.Path != "/h/dev" || r.Header.Get("Content-Type") != "application/json" {
		t.Errorf("got %s %s (%s)", r.Method, r.URL.Path, r.Header.Get("Content-Type"))
	}
	if b := <-bodies; !strings.Contains(b, `"action":"payable.created"`) {
		t.Errorf("body %q", b)
	}
}

// pastedCommand is what a user copies from the screen: the lines from the
// one starting with first through the last continued one, unindented.
func pastedCommand(t *testing.T, view, first string) string {
	t.Helper()
	var cmd []string
	for _, line := range strings.Split(view, "\n") {
		line = strings.TrimSpace(line)
		if len(cmd) == 0 && !strings.HasPrefix(line, first) {
			continue
		}
		cmd = append(cmd, line)
		if !strings.HasSuffix(line, `\`) {
			return strings.Join(cmd, "\n")
		}
	}
	t.Fatalf("no command starting with %q on the screen:\n%s", first, view)
	return ""
}

// TestFirstScreenTryIt: the empty list offers the commands Options.TryIt
// gives (the agent's filter picks the event); without a trigger command
// it offers none.
func TestFirstScreenTryIt(t *testing.T) {
	for _, trigger := range []string{"hooktap trigger invoice.created --to URL", ""} {
		s := openStore(t)
		opts := testOptions(s)
		opts.Bus = firstScreenBus("http://127.0.0.1:8789/h/dev")
		opts.TryIt = func(u string) (string, string) { return "curl -d invoice.created " + u, trigger }
		m := newModel(context.Background(), opts)
		tm := teatest.NewTestModel(t, m, teatest.WithInitialTermSize(120, 30))
		waitScreen(t, tm, "curl -d invoice.created http://127.0.0.1:8789/h/dev")
		if err := tm.Quit(); err != nil {
			t.Fatal(err)
		}
		view := tm.FinalModel(t, teatest.WithFinalTimeout(patience)).View()
		if strings.Contains(view, "payable.created") || strings.Contains(view, "realistic payload") != (trigger != "") ||
			trigger != "" && !strings.Contains(view, trigger) {
			t.Errorf("with trigger %q the first screen is:\n%s", trigger, view)
		}
		m.Close()
	}
}
