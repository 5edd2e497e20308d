package tui

import (
	"bytes"
	"context"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/x/exp/teatest"

	"github.com/hooktap/hooktap/inspector/live"
)

// lockedBuffer is a program's output, read while it writes.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) has(s string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return bytes.Contains(l.b.Bytes(), []byte(s))
}

func waitOutput(t *testing.T, out *lockedBuffer, s string) {
	t.Helper()
	deadline := time.Now().Add(patience)
	for !out.has(s) {
		if time.Now().After(deadline) {
			t.Fatalf("%q never showed", s)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestKeysTogetherThroughInput writes "jjj" in one write to the program's
// input, as tmux send-keys or a held key on a loaded machine do: bubbletea
// reads it as one message of three letters, and each must move.
func TestKeysTogetherThroughInput(t *testing.T) {
	s := openStore(t)
	seed(t, s, 0, 10, "http://127.0.0.1:9/webhooks")
	m := newModel(context.Background(), testOptions(s))
	defer m.Close()
	in, keys := io.Pipe()
	out := &lockedBuffer{}
	p := tea.NewProgram(m, tea.WithInput(in), tea.WithOutput(out), tea.WithoutSignals())
	done := make(chan tea.Model, 1)
	go func() {
		final, err := p.Run()
		if err != nil {
			t.Error(err)
		}
		done <- final
	}()
	p.Send(tea.WindowSizeMsg{Width: 100, Height: 30})
	waitOutput(t, out, "▸ 09:30:09")
	if _, err := keys.Write([]byte("jjj")); err != nil {
		t.Fatal(err)
	}
	waitOutput(t, out, "▸ 09:30:06")
	p.Quit()
	keys.Close()
	if got := (<-done).(*Model).list.selected; got != "dlv_000006" {
		t.Errorf("jjj selected %s, want dlv_000006", got)
	}
}

// TestFooterAndCounts: at 80x24 the help line keeps "? help • q quit";
// the count is singular for one delivery and says "N of M" under a filter;
// a delivery from another day shows its date and time.
func TestFooterAndCounts(t *testing.T) {
	s := openStore(t)
	seed(t, s, 0, 1, "http://127.0.0.1:9/webhooks")
	old := delivery(7)
	old.ReceivedAt = base.Add(-26 * time.Hour) // the day before, 07:30
	stored(t, s.Insert(old))

	m := newModel(context.Background(), testOptions(s))
	defer m.Close()
	tm := teatest.NewTestModel(t, m, teatest.WithInitialTermSize(80, 24))
	waitScreen(t, tm, "Mar 13 07:30", "2 deliveries", "? help • q quit")
	for _, k := range "/status:2xx" {
		tm.Send(keyMsg(string(k)))
	}
	tm.Send(keyMsg("enter"))
	waitScreen(t, tm, "1 of 2 deliveries")
	if err := tm.Quit(); err != nil {
		t.Fatal(err)
	}
	view := tm.FinalModel(t, teatest.WithFinalTimeout(patience)).View()
	lines := strings.Split(view, "\n")
	if last := lines[len(lines)-1]; !strings.HasSuffix(last, "? help • q quit") {
		t.Errorf("80x24 help line %q lacks ? help • q quit", last)
	}

	one := openStore(t)
	seed(t, one, 0, 1, "http://127.0.0.1:9/webhooks")
	m1 := newModel(context.Background(), testOptions(one))
	defer m1.Close()
	tm1 := teatest.NewTestModel(t, m1, teatest.WithInitialTermSize(80, 24))
	waitScreen(t, tm1, "09:30:00", " 1 delivery")
	if err := tm1.Quit(); err != nil {
		t.Fatal(err)
	}
	view = tm1.FinalModel(t, teatest.WithFinalTimeout(patience)).View()
	if !strings.Contains(view, " 1 delivery") || strings.Contains(view, "1 deliveries") {
		t.Errorf("one delivery counted as:\n%s", view)
	}
}

// TestNoCountBeforeCounted: the status line shows no count until the
// first count came; the rows could come first, under a "0 deliveries".
func TestNoCountBeforeCounted(t *testing.T) {
	s := openStore(t)
	seed(t, s, 0, 1, "http://127.0.0.1:9/webhooks")
	m := newModel(context.Background(), testOptions(s))
	defer m.Close()
	if line := m.statusLine(); strings.Contains(line, "deliver") {
		t.Fatalf("before any count the status line says %q", line)
	}
	m.Update(countMsg{n: 1})
	if line := m.statusLine(); !strings.Contains(line, " 1 delivery") {
		t.Fatalf("after a count of 1 the status line says %q", line)
	}
}

// TestCurlWrapsAtArguments: at 60 columns the copy-as-curl screen breaks
// the command between its arguments, never inside one that fits a line.
func TestCurlWrapsAtArguments(t *testing.T) {
	s := openStore(t)
	d := delivery(0)
	// Too wide beside its -H at 60 columns, not alone.
	d.Header.Set("X-Request-Id", "req-2b7d1c0a-6e5f-4a3b-9c8d-7e6f5a4b3c")
	stored(t, s.Insert(d))
	stored(t, s.AddAttempt(attempt(d, 0, "http://127.0.0.1:3000/webhooks/billing?src=test")))
	m := newModel(context.Background(), testOptions(s))
	defer m.Close()
	tm := teatest.NewTestModel(t, m, teatest.WithInitialTermSize(60, 30))
	waitScreen(t, tm, "▸ 09:30:00")
	tm.Send(keyMsg("c"))
	waitScreen(t, tm, "Copy as curl")
	if err := tm.Quit(); err != nil {
		t.Fatal(err)
	}
	final := tm.FinalModel(t, teatest.WithFinalTimeout(patience)).(*Model)
	shown := final.curl.View()
	for _, whole := range []string{
		"'http://127.0.0.1:3000/webhooks/billing?src=test'",
		"'X-Request-Id: req-2b7d1c0a-6e5f-4a3b-9c8d-7e6f5a4b3c'",
		"-H 'User-Agent: Monite-Webhooks/1.0'",
	} {
		if !strings.Contains(shown, whole) {
			t.Errorf("%s is cut on screen:\n%s", whole, shown)
		}
	}
	for _, l := range strings.Split(shown, "\n") {
		if len([]rune(l)) > 60 {
			t.Errorf("line wider than 60: %q", l)
		}
	}
}

// TestFilteredCountFollowsArrivals: under a filter the count says how many
// match of how many there are, and counts again as deliveries arrive.
func TestFilteredCountFollowsArrivals(t *testing.T) {
	s := openStore(t)
	seed(t, s, 0, 2, "http://127.0.0.1:9/webhooks") // 200, 204
	bus := live.NewBus()
	opts := testOptions(s)
	opts.Bus = bus
	m := newModel(context.Background(), opts)
	defer m.Close()
	tm := teatest.NewTestModel(t, m, teatest.WithInitialTermSize(100, 30))
	waitScreen(t, tm, "09:30:01")
	for _, k := range "/status:2xx" {
		tm.Send(keyMsg(string(k)))
	}
	tm.Send(keyMsg("enter"))
	waitScreen(t, tm, "2 of 2 deliveries")
	for _, i := range []int{2, 5} { // 404, then 200
		seed(t, s, i, 1, "http://127.0.0.1:9/webhooks")
		bus.Publish(live.Event{Kind: live.EventReceived, Delivery: delivery(i)})
	}
	waitScreen(t, tm, "3 of 4 deliveries")
	if err := tm.Quit(); err != nil {
		t.Fatal(err)
	}
	tm.WaitFinished(t, teatest.WithFinalTimeout(patience))
}
