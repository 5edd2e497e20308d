package tui

import (
	"errors"
	"io"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/x/ansi"

	"github.com/hooktap/hooktap/inspector/live"
)

// tickAt hands the model the clock's tick at t, without the next tick and
// count it asks for (a tick command sleeps a second).
func tickAt(m *Model, t time.Time) { m.Update(tickMsg(t)) }

// TestStatusMessageExpires: an action's result leaves the status line after
// a few seconds (an error a little later), instead of staying for minutes
// across unrelated actions.
func TestStatusMessageExpires(t *testing.T) {
	s := openStore(t)
	srv, got := app(t)
	seed(t, s, 0, 3, srv.URL+"/webhooks")
	m := newSized(t, testOptions(s))

	send(t, m, keyMsg("r"))
	nextRequest(t, got)
	if !strings.Contains(m.View(), "replay: 202 in") {
		t.Fatalf("replay result not shown:\n%s", m.View())
	}
	tickAt(m, time.Now().Add(time.Second))
	if !strings.Contains(m.View(), "replay: 202 in") {
		t.Fatalf("replay result gone after a second:\n%s", m.View())
	}
	tickAt(m, time.Now().Add(messageTTL+time.Second))
	if strings.Contains(m.View(), "replay:") {
		t.Fatalf("replay result still shown after %s:\n%s", messageTTL, m.View())
	}

	send(t, m, keyMsg("j")) // dlv_000001, which arrived signed
	send(t, m, keyMsg("R")) // no secret: an error
	tickAt(m, time.Now().Add(messageTTL+time.Second))
	if !strings.Contains(m.View(), "resend needs the signing secret") {
		t.Fatalf("error gone before %s:\n%s", errorTTL, m.View())
	}
	tickAt(m, time.Now().Add(errorTTL+time.Second))
	if strings.Contains(m.View(), "resend needs") {
		t.Fatalf("error still shown after %s:\n%s", errorTTL, m.View())
	}
}

// TestEscClosesHelp: esc closes the ? panel, on the list and in the detail
// (where it closes the help before it goes back to the list).
func TestEscClosesHelp(t *testing.T) {
	s := openStore(t)
	seed(t, s, 0, 3, "http://127.0.0.1:9/webhooks")
	m := newSized(t, testOptions(s))
	for _, where := range []screen{screenList, screenDetail} {
		if where == screenDetail {
			send(t, m, keyMsg("enter"))
		}
		send(t, m, keyMsg("?"))
		if !m.help.ShowAll {
			t.Fatal("? did not open the help")
		}
		send(t, m, keyMsg("esc"))
		if m.help.ShowAll || m.screen != where {
			t.Errorf("esc on screen %d: help open %v, screen %d", where, m.help.ShowAll, m.screen)
		}
	}
}

// TestWebProblemShown: a web inspector that did not start is said on the
// status line, with what to do.
func TestWebProblemShown(t *testing.T) {
	s := openStore(t)
	opts := testOptions(s)
	opts.Bus = firstScreenBus("http://127.0.0.1:8789/h/dev")
	opts.WebProblem = "web inspector not started: 127.0.0.1:4040 is in use; try --web 127.0.0.1:4041 or --no-web"
	m := newSized(t, opts)
	send(t, m, tea.WindowSizeMsg{Width: 120, Height: 30})
	m.onEvent(live.Event{Kind: live.EventApp, App: live.AppHealth{Target: appDown.Target, Checked: true, Listening: true}})
	if v := ansi.Strip(m.View()); !strings.Contains(v, opts.WebProblem) {
		t.Fatalf("status line does not say the web inspector did not start:\n%s", v)
	}
}

// TestQuitWaitsForInFlight: q with a delivery in flight tells the agent to
// stop, says what it waits for, and quits once the agent is done; a second
// ctrl+c quits at once, and Run says so (ErrQuitNow).
func TestQuitWaitsForInFlight(t *testing.T) {
	s := openStore(t)
	var inFlight atomic.Int64
	inFlight.Store(1)
	done := make(chan struct{})
	var stops atomic.Int64
	opts := testOptions(s)
	opts.InFlight = func() int { return int(inFlight.Load()) }
	opts.Stop = func() <-chan struct{} { stops.Add(1); return done }
	m := newSized(t, opts)

	_, cmd := m.Update(tea.KeyMsg{Type: tea.KeyCtrlC})
	if stops.Load() != 1 || cmd == nil {
		t.Fatalf("ctrl+c did not stop the agent (%d stops)", stops.Load())
	}
	want := "waiting for 1 delivery in flight to the app… Ctrl-C again to quit now"
	if v := m.View(); !strings.Contains(v, want) {
		t.Fatalf("no %q:\n%s", want, v)
	}
	inFlight.Store(0)
	tickAt(m, time.Now())
	if v := m.View(); !strings.Contains(v, "stopping…") {
		t.Fatalf("no stopping once nothing is in flight:\n%s", v)
	}
	close(done)
	if _, ok := cmd().(stoppedMsg); !ok {
		t.Fatal("the wait did not end when the agent stopped")
	}
	if _, quit := m.Update(stoppedMsg{}); quit == nil || quit() != tea.Quit() {
		t.Fatal("the UI did not quit once the agent stopped")
	}

	// Through Run: two ctrl+c (as the terminal sends them) leave at once.
	inFlight.Store(1)
	never := make(chan struct{}) // an agent that does not finish
	opts.Stop = func() <-chan struct{} { stops.Add(1); return never }
	in, keys := io.Pipe()
	ran := make(chan error, 1)
	go func() { ran <- Run(t.Context(), opts, in, io.Discard) }()
	if _, err := keys.Write([]byte{3}); err != nil {
		t.Fatal(err)
	}
	for stops.Load() != 2 {
		select {
		case err := <-ran:
			t.Fatalf("Run ended on the first ctrl+c: %v", err)
		case <-time.After(10 * time.Millisecond):
		}
	}
	if _, err := keys.Write([]byte{3}); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-ran:
		if !errors.Is(err, ErrQuitNow) {
			t.Errorf("Run returned %v, want ErrQuitNow", err)
		}
	case <-time.After(patience):
		t.Fatal("a second ctrl+c did not quit")
	}
	keys.Close()
}

// TestQuitWhileTypingFilterWaits: ctrl+c while typing a filter waits for
// the deliveries in flight too.
func TestQuitWhileTypingFilterWaits(t *testing.T) {
	s := openStore(t)
	var stops atomic.Int64
	opts := testOptions(s)
	opts.InFlight = func() int { return 1 }
	opts.Stop = func() <-chan struct{} { stops.Add(1); return make(chan struct{}) }
	m := newSized(t, opts)
	m.Update(keyMsg("/"))
	if !m.filter.typing {
		t.Fatal("/ did not open the filter")
	}
	m.Update(tea.KeyMsg{Type: tea.KeyCtrlC})
	if stops.Load() != 1 || !m.quitting {
		t.Fatalf("ctrl+c in the filter quit without waiting (%d stops)", stops.Load())
	}
}
