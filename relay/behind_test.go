package relay

import (
	"context"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/hooktap/hooktap/relay/wire"
)

// signalHandler is a log handler that reports messages on a channel: the
// relay logs "agent disconnected" once it has saved what the agent left.
type signalHandler struct{ msgs chan string }

func (h signalHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h signalHandler) Handle(_ context.Context, r slog.Record) error {
	select {
	case h.msgs <- r.Message:
	default:
	}
	return nil
}
func (h signalHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h signalHandler) WithGroup(string) slog.Handler      { return h }

// waitLog waits for a log message.
func waitLog(t *testing.T, msgs <-chan string, want string) {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		select {
		case m := <-msgs:
			if m == want {
				return
			}
		case <-deadline:
			t.Fatalf("no %q logged in 10s", want)
		}
	}
}

// TestAgentLeavingBehindDoesNotUnclaimWhatOthersAcked: two teammates with
// no filter; one acks all 100 deliveries as they come, the other is behind
// (its app is slow) and goes away. Every delivery was claimed by the first
// agent's ack, so a new teammate should start with nothing old ("a new
// teammate does not get a day of old deliveries"). But the leaver marks
// everything it had not been sent as unclaimed, acked by others or not, and
// the newcomer gets it all, forwarded to its app as new: 100 of 100.
func TestAgentLeavingBehindDoesNotUnclaimWhatOthersAcked(t *testing.T) {
	logs := make(chan string, 64)
	srv, ts := newRelay(t, Config{Window: 8, ResponseTimeout: time.Second, Logger: slog.New(signalHandler{logs})})
	fast := dialAgent(t, ts)
	fast.hello("team", "agt_fast")
	slow := dialAgent(t, ts)
	slow.hello("team", "agt_slow") // reads nothing: far behind

	const n = 100
	var last int64
	for i := range n {
		go postQuiet(ts.URL+"/h/team", []byte(fmt.Sprintf(`{"action":"payable.created","id":"evt_%d"}`, i)))
		d := fast.readDelivery()
		fast.ack(d)
		last = d.Seq
	}
	waitCursor(t, srv, "team", "agt_fast", last) // all 100 claimed

	slow.ws.Close()
	waitLog(t, logs, "agent disconnected")

	newcomer := dialAgent(t, ts)
	newcomer.hello("team", "agt_new")
	marker(t, ts.URL)
	old := 0
	for {
		d := newcomer.readDelivery()
		if string(d.Body) == `{"action":"payable.marker"}` {
			break
		}
		newcomer.ack(d)
		old++
	}
	if old > 0 {
		t.Fatalf("a new agent got %d of %d old deliveries that another agent had acked before the slow one left; want 0", old, n)
	}
}

// TestUnclaimedReachesAConnectedAgent: teammate P takes payable.*, A takes
// everything but is behind (a counterpart.created waits in its window), and
// C, a new agent with no filter, connects after P has moved past the
// counterpart: C starts after P's position, so the counterpart is A's
// alone. Then A leaves and the counterpart is marked unclaimed. C is
// connected and its filter matches, but sessions only adopt unclaimed
// deliveries when they open: C never gets it while it stays connected, and
// the buffer's retention (24 h) ends it.
func TestUnclaimedReachesAConnectedAgent(t *testing.T) {
	logs := make(chan string, 64)
	srv, ts := newRelay(t, Config{ResponseTimeout: 300 * time.Millisecond, Logger: slog.New(signalHandler{logs})})
	p := dialAgent(t, ts)
	p.helloAs("team", "agt_p", testKey("agt_p"), "payable.*")
	a := dialAgent(t, ts)
	a.hello("team", "agt_a") // reads nothing: behind

	post(t, ts.URL+"/h/team", []byte(`{"action":"counterpart.created"}`))
	marker(t, ts.URL)
	m := p.readDelivery()
	p.ack(m)
	waitCursor(t, srv, "team", "agt_p", m.Seq)

	c := dialAgent(t, ts)
	c.hello("team", "agt_c")
	a.ws.Close()
	waitLog(t, logs, "agent disconnected") // the counterpart is unclaimed now

	marker(t, ts.URL)
	c.ws.SetReadDeadline(time.Now().Add(3 * time.Second))
	var got []string
	for {
		_, b, err := c.ws.ReadMessage()
		if err != nil {
			break // nothing more within the deadline
		}
		msg, err := wire.Decode(b)
		if d, ok := msg.(*wire.Delivery); ok && err == nil {
			got = append(got, string(d.Body))
			c.ack(d)
		}
	}
	for _, b := range got {
		if b == `{"action":"counterpart.created"}` {
			return
		}
	}
	t.Fatalf("the connected agent C got %q in 3 s, never the counterpart that A left unclaimed", got)
}
