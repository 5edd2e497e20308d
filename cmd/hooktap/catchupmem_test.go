package main

import (
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/hooktap/hooktap/relay/wire"
)

// TestRelayMemoryUnderManyCatchUps: 8 MiB wait in a channel's buffer (two
// 4 MiB webhooks sent while nobody listened); then 60 agents connect to
// it and read slowly (here: not at all). Each session reads its own page
// of up to 8 MiB from the buffer and builds a frame for each delivery, and
// holds both while its write waits (up to 10 s): nothing bounds the sum
// over sessions. In four runs the relay's peak resident memory went from
// 55 MiB to 992-1,156 MiB, against the 320 MiB the team states for
// 200 × 4 MiB (relayMemoryBound). The same happens when a team relay restarts and its
// agents come back behind; in open mode anyone can do it with two POSTs
// and 60 WebSockets (new agents of a channel start where its furthest
// cursor is, and here none has acked anything); in team mode, by code
// reading, anyone with the channel's token through the deliveries no agent
// has claimed, which every new agent id is sent (adoptUnclaimed reads the
// same 8 MiB pages).
func TestRelayMemoryUnderManyCatchUps(t *testing.T) {
	relayProc, relayURL := startRelay(t)
	for i := range 2 {
		if s, _, err := postBig(relayURL+"/h/mem", fmt.Sprint("evt_", i), bigBody(i, 4<<20)); err != nil || s != http.StatusAccepted {
			t.Fatalf("post %d: %d %v", i, s, err)
		}
	}
	const agents = 60
	var wg sync.WaitGroup
	for i := range agents {
		wg.Add(1)
		go func() {
			defer wg.Done()
			a := dialRaw(t, relayURL)
			a.send(&wire.Hello{Channel: "mem", AgentID: fmt.Sprintf("agt_%03d", i), AgentKey: fmt.Sprintf("key-%03d-0123456789", i), Binary: true})
			a.read() // the welcome; then nothing is read
		}()
	}
	wg.Wait()
	// The peak comes while the sessions' writes wait; sample it for a while.
	peak := 0
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); {
		peak = peakKiB(t, relayProc.cmd.Process.Pid)
		time.Sleep(100 * time.Millisecond) // sampling memory: a poll with a deadline
	}
	if peak > relayMemoryBound {
		t.Fatalf("relay peak resident memory %d MiB with %d agents catching up on 8 MiB, over the bound of %d MiB",
			peak>>10, agents, relayMemoryBound>>10)
	}
}
