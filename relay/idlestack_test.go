package relay

import (
	"bytes"
	"fmt"
	"io"
	"runtime"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// TestIdleAgentsKeepSmallStacks: an idle agent costs the relay one
// goroutine with the smallest stack (2 KiB), waiting for its next bytes,
// after a hello, a ping of its own and a ping of the relay's (Alive) have
// each made the relay read deep. A goroutine parked deep in a WebSocket
// read keeps 4 KiB. The race detector doubles both. The bound lies
// halfway, 3 KiB (6 KiB under -race): StackInuse counts whole spans and
// every other goroutine's growth, so a bound near 2 KiB fails on noise
// (a bound of a parked goroutine's stack plus 512 bytes failed in CI
// at 4,178 against 4,165 under -race).
func TestIdleAgentsKeepSmallStacks(t *testing.T) {
	const agents = 2000
	const limit = 3 * 1024 * raceStacks // bytes
	srv, ts := newRelay(t, Config{})
	stacksBefore, goroutinesBefore := stacks()

	fakes := make([]*fakeAgent, agents)
	for i := range fakes {
		a := dialAgent(t, ts)
		a.hello(fmt.Sprintf("idle-%d", i), "a")
		fakes[i] = a
	}
	for _, a := range fakes {
		// A ping from the agent, alone: the relay answers it.
		if err := a.ws.WriteControl(websocket.PingMessage, []byte("hi"), time.Now().Add(5*time.Second)); err != nil {
			t.Fatal(err)
		}
		a.expectRaw([]byte{0x8a, 2, 'h', 'i'}) // a pong, unmasked from the relay
	}
	for i, a := range fakes {
		// A ping from the relay, answered.
		ss := srv.sessionOf(fmt.Sprintf("idle-%d", i), "a")
		alive := make(chan bool, 1)
		go func() { alive <- ss.conn.Alive(5 * time.Second) }()
		a.expectRaw([]byte{0x89, 0})
		if err := a.ws.WriteControl(websocket.PongMessage, nil, time.Now().Add(5*time.Second)); err != nil {
			t.Fatal(err)
		}
		if !<-alive {
			t.Fatalf("agent %d did not answer the relay's ping", i)
		}
	}

	// The goroutines that read go, leaving one per agent.
	deadline := time.Now().Add(10 * time.Second)
	for runtime.NumGoroutine() > goroutinesBefore+agents && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond) // no signal to wait on: a poll with a deadline
	}
	stacksAfter, goroutinesAfter := stacks()
	perAgent := float64(stacksAfter-stacksBefore) / agents
	t.Logf("%d idle agents: %+d goroutines, %.0f bytes of stack each (at most %d)", agents, goroutinesAfter-goroutinesBefore, perAgent, limit)
	if perAgent > limit {
		t.Errorf("an idle agent costs %.0f bytes of stack, want at most %d", perAgent, limit)
	}
}

// stacks is the memory of goroutine stacks, and their number.
func stacks() (uint64, int) {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.StackInuse, runtime.NumGoroutine()
}

// expectRaw reads want off the agent's socket, under its WebSocket.
func (a *fakeAgent) expectRaw(want []byte) {
	a.t.Helper()
	got := make([]byte, len(want))
	a.ws.UnderlyingConn().SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.ReadFull(a.ws.UnderlyingConn(), got); err != nil {
		a.t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		a.t.Fatalf("read % x, want % x", got, want)
	}
}
