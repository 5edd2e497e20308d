package tui

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/charmbracelet/lipgloss"
	"github.com/charmbracelet/x/exp/teatest"
	"github.com/muesli/termenv"

	"github.com/hooktap/hooktap/inspector/live"
)

// TestStalledRelayIsRed: a relay that stopped answering heartbeats shows
// in red on the title line, with the reason; a connected one shows its
// heartbeat's round trip; an app whose forwards fail shows its error rate.
func TestStalledRelayIsRed(t *testing.T) {
	s := openStore(t)
	seed(t, s, 0, 5, "http://127.0.0.1:3000/webhooks")
	bus := live.NewBus()
	relay := live.RelayStatus{Relay: "http://127.0.0.1:8789", URL: "http://127.0.0.1:8789/h/dev", Target: "http://127.0.0.1:3000/webhooks"}
	connected := relay
	connected.State, connected.RTT, connected.Heartbeat = live.StateConnected, 1500*time.Microsecond, fixedNow()
	bus.Publish(live.Event{Kind: live.EventRelay, Relay: connected})
	bus.Publish(live.Event{Kind: live.EventApp, App: live.AppHealth{Target: relay.Target, Addr: "127.0.0.1:3000",
		Checked: true, Listening: true, LastStatus: 500, Forwards: 4, Failures: 1}})
	opts := testOptions(s)
	opts.Bus = bus
	m := newModel(context.Background(), opts)
	defer m.Close()
	tm := teatest.NewTestModel(t, m, teatest.WithInitialTermSize(120, 30))
	waitScreen(t, tm, "● connected 1.5ms", "25% failed")

	stalled := relay
	stalled.State, stalled.Stalled, stalled.RetryAt = live.StateReconnecting, true, fixedNow().Add(2*time.Second)
	stalled.Reason = "the relay stopped answering: no heartbeat for 1s"
	bus.Publish(live.Event{Kind: live.EventRelay, Relay: stalled})
	const want = "○ relay not answering, reconnecting in 2s (the relay stopped answering: no heartbeat for 1s)"
	waitScreen(t, tm, want)
	if err := tm.Quit(); err != nil {
		t.Fatal(err)
	}
	final := tm.FinalModel(t, teatest.WithFinalTimeout(patience)).(*Model)
	if title := strings.Split(final.View(), "\n")[0]; !strings.Contains(title, want) {
		t.Errorf("title line %q lacks %q", title, want)
	}
	lipgloss.SetColorProfile(termenv.TrueColor)
	defer lipgloss.SetColorProfile(termenv.Ascii)
	if red := colorOf(final.styles.Offline) + "○ relay not answering"; !strings.Contains(final.titleBar(), red) {
		t.Errorf("title %q lacks the stall in red %q", final.titleBar(), red)
	}
}

// TestInMemoryRoundTripNotShown: dev's agent is attached in memory, its
// round trip is microseconds: the title says "connected", not
// "connected 0.0ms" (which reads as broken); a real one shows.
func TestInMemoryRoundTripNotShown(t *testing.T) {
	m := newModel(context.Background(), testOptions(openStore(t)))
	defer m.Close()
	for rtt, want := range map[time.Duration]string{
		30 * time.Microsecond:  "● connected",
		250 * time.Microsecond: "● connected 0.2ms",
		12 * time.Millisecond:  "● connected 12ms",
	} {
		m.status.conn = live.RelayStatus{State: live.StateConnected, RTT: rtt}
		if got := m.status.connText(); got != want {
			t.Errorf("rtt %s: %q, want %q", rtt, got, want)
		}
	}
}
