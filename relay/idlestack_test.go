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

// TestIdleAgentsHoldNoGoroutine: an idle agent costs the relay no
// goroutine, and so no stack, after a hello, a ping of its own and a ping
// of the relay's (Alive) have each made the relay read: one goroutine
// waits for all of them (wire's frameConn.await). A goroutine per agent
// cost 2 KiB of stack, or 4 KiB parked deep in a WebSocket read (twice
// that under -race), and as much again of heap, since the garbage
// collector's goal counts stacks. StackInuse counts whole spans and every
// other goroutine's growth: the bound is 512 bytes (1 KiB under -race).
// The fake agents read nothing between their steps: the relay's pings
// and idle timeout are set beyond the test's length (under -race on a
// loaded machine it once took 66 s, past the default ping period).
func TestIdleAgentsHoldNoGoroutine(t *testing.T) {
	const agents = 2000
	const limit = 512 * raceStacks // bytes of stack per agent
	srv, ts := newRelay(t, Config{idleWait: time.Hour})
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

	// The goroutines that read go.
	deadline := time.Now().Add(10 * time.Second)
	for runtime.NumGoroutine() > goroutinesBefore+agents/100 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond) // no signal to wait on: a poll with a deadline
	}
	stacksAfter, goroutinesAfter := stacks()
	perAgent := float64(int64(stacksAfter)-int64(stacksBefore)) / agents
	t.Logf("%d idle agents: %+d goroutines, %.0f bytes of stack each (at most %d)", agents, goroutinesAfter-goroutinesBefore, perAgent, limit)
	if added := goroutinesAfter - goroutinesBefore; added > agents/100 {
		t.Errorf("%d idle agents hold %d goroutines, want none each", agents, added)
	}
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
