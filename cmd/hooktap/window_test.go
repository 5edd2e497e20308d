package main

import (
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestLargeWindowDoesNotLoop: an agent takes at most 1,024 deliveries
// outstanding and ends the session when a relay sends more. `hooktap relay
// --window 2000` used to be accepted, and with a backlog over 1,024 the
// agent reconnected again and again (52 times with 3,000 waiting, found by
// outside testing). The relay refuses a window over 1,024 now, and at 1,024
// a backlog of 1,500 goes through without a reconnect.
func TestLargeWindowDoesNotLoop(t *testing.T) {
	if _, stderr, code := hooktapOut(t, nil, "relay", "--window", "2000", "--data", t.TempDir()); code != 2 || !strings.Contains(stderr, "at most 1024") {
		t.Fatalf("relay --window 2000: exit %d, %q; want a usage error", code, stderr)
	}
	app := newCountingApp(t, 0)
	_, relayURL := startRelay(t, "--window", "1024")
	const n = 1500
	var wg sync.WaitGroup
	jobs := make(chan int)
	var mu sync.Mutex
	var want []string
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				status, evt := postEvent(relayURL+"/h/win", i)
				if status == http.StatusAccepted {
					mu.Lock()
					want = append(want, evt)
					mu.Unlock()
				}
			}
		}()
	}
	for i := range n {
		jobs <- i
	}
	close(jobs)
	wg.Wait()
	if len(want) != n {
		t.Fatalf("%d of %d accepted", len(want), n)
	}
	listen := startProc(t, "listen", "--no-web", "--relay", relayURL, "--channel", "win", "--forward-to", app.URL,
		"--db", filepath.Join(t.TempDir(), "agent.db"), "--no-tui", "--no-web")
	listen.line(t, "hooktap is ready")
	lost := make(chan string, 1)
	go func() {
		for l := range listen.lines {
			if strings.Contains(l, "connection lost") {
				select {
				case lost <- l:
				default:
				}
			}
		}
	}()
	app.waitFor(t, want, 60*time.Second)
	select {
	case l := <-lost:
		t.Fatalf("with relay --window 1024 and %d waiting, the agent dropped its connection: %q", n, l)
	default:
	}
}
