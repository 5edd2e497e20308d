package tui

import (
	"context"
	"strings"
	"testing"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"
	"github.com/charmbracelet/x/exp/golden"
	"github.com/charmbracelet/x/exp/teatest"
	"github.com/muesli/termenv"

	"github.com/hooktap/hooktap/inspector/live"
)

// TestGolden runs the UI as a program at fixed sizes over a seeded store
// and compares the screens with testdata/TestGolden/*.golden (refresh
// them with go test ./tui -run TestGolden -update).
func TestGolden(t *testing.T) {
	s := openStore(t)
	seed(t, s, 0, 40, "http://127.0.0.1:3000/webhooks/billing?src=test")
	cases := []struct {
		name          string
		width, height int
		keys          []tea.Msg
		wait          string
	}{
		{"list_80x24", 80, 24, nil, "09:30:39"},
		{"list_100x30", 100, 30, []tea.Msg{keyMsg("j"), keyMsg("j")}, "▸ 09:30:37"},
		{"list_200x50", 200, 50, nil, "09:30:39"},
		{"help_100x30", 100, 30, []tea.Msg{keyMsg("?")}, "page down"},
		{"filter_100x30", 100, 30, []tea.Msg{keyMsg("/"), keyMsg("s"), keyMsg("t"), keyMsg("a"), keyMsg("t"), keyMsg("u"),
			keyMsg("s"), keyMsg(":"), keyMsg("4"), keyMsg("x"), keyMsg("x")}, "▸ 09:30:37"},
		{"detail_request_100x30", 100, 30, []tea.Msg{keyMsg("j"), keyMsg("enter")}, "Headers"},
		{"detail_response_100x30", 100, 30, []tea.Msg{keyMsg("j"), keyMsg("j"), keyMsg("j"), keyMsg("j"), keyMsg("enter"), keyMsg("tab")}, "received"},
		{"detail_attempts_80x24", 80, 24, []tea.Msg{keyMsg("enter"), keyMsg("tab"), keyMsg("tab")}, "KIND"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m := newModel(context.Background(), testOptions(s))
			defer m.Close()
			tm := teatest.NewTestModel(t, m, teatest.WithInitialTermSize(tc.width, tc.height))
			// The page must be loaded for this size, not the default
			// 80x24 of the first frame: wait for its oldest row too.
			oldest := map[int]string{24: "09:30:20", 30: "09:30:14", 50: "09:30:00"}[tc.height]
			waitScreen(t, tm, "40 deliveries", "09:30:39", oldest)
			for _, k := range tc.keys {
				tm.Send(k)
			}
			if len(tc.keys) > 0 {
				waitScreen(t, tm, tc.wait)
			}
			if err := tm.Quit(); err != nil {
				t.Fatal(err)
			}
			view := tm.FinalModel(t, teatest.WithFinalTimeout(patience)).View()
			if n := strings.Count(view, "\n") + 1; n != tc.height {
				t.Errorf("view is %d lines, want %d", n, tc.height)
			}
			for i, line := range strings.Split(view, "\n") {
				if w := len([]rune(line)); w > tc.width {
					t.Errorf("line %d is %d cells wide, more than %d: %q", i+1, w, tc.width, line)
				}
			}
			golden.RequireEqual(t, []byte(view))
		})
	}
}

// TestGoldenStoreFull shows an agent whose store cannot write: the status
// line says so, in red, until it writes again (testdata/TestGoldenStoreFull.golden).
func TestGoldenStoreFull(t *testing.T) {
	s := openStore(t)
	seed(t, s, 0, 40, "http://127.0.0.1:3000/webhooks/billing?src=test")
	bus := fullStoreBus()
	opts := testOptions(s)
	opts.Bus = bus
	m := newModel(context.Background(), opts)
	defer m.Close()
	tm := teatest.NewTestModel(t, m, teatest.WithInitialTermSize(100, 30))
	const line = "store: cannot write (disk full) — 12 deliveries waiting; retrying"
	waitScreen(t, tm, "09:30:14", line)
	if err := tm.Quit(); err != nil {
		t.Fatal(err)
	}
	final := tm.FinalModel(t, teatest.WithFinalTimeout(patience)).(*Model)
	view := final.View()
	if !strings.Contains(strings.Split(view, "\n")[28], line) {
		t.Errorf("the status line does not say the store cannot write:\n%s", view)
	}
	golden.RequireEqual(t, []byte(view))

	// In red, ahead of any message; gone once the store writes again.
	lipgloss.SetColorProfile(termenv.TrueColor)
	defer lipgloss.SetColorProfile(termenv.Ascii)
	final.status.say("replayed", nil)
	if want := final.styles.Error.Render(line); want == line || !strings.Contains(final.statusLine(), want) {
		t.Errorf("status line %q lacks %q", final.statusLine(), want)
	}
	final.onEvent(live.Event{Kind: live.EventStore})
	if strings.Contains(final.View(), "cannot write") {
		t.Errorf("still shown after the store recovered:\n%s", final.View())
	}
}

// fullStoreBus is the bus of an agent that is connected and whose store
// cannot write: a model subscribing to it hears both first.
func fullStoreBus() *live.Bus {
	bus := live.NewBus()
	bus.Publish(live.Event{Kind: live.EventRelay, Relay: live.RelayStatus{State: live.StateConnected,
		URL: "https://relay.example/h/dev", Target: "http://127.0.0.1:3000/webhooks"}})
	bus.Publish(live.Event{Kind: live.EventStore, Store: live.StoreHealth{
		Err: "commit: database or disk is full (13)", Since: base, Waiting: 12}})
	return bus
}
