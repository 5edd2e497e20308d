package main

import (
	"path/filepath"
	"testing"
	"time"
)

// Two of three nodes killed: the survivor cannot store (no majority), so
// its senders get no 2xx. What they were refused must then never reach
// the app, also once the two come back (the sender retries it, and the app
// would see it twice); and the refusal comes within about
// --response-timeout, as a provider gives up then.
func TestProcessRelayClusterQuorumLostRefusedNeverDelivered(t *testing.T) {
	const timeout = 2 * time.Second
	nodes, routes := newClusterNodes(t, 3)
	for _, nd := range nodes {
		nd.start(t, "hooktap-q", routes, "--response-timeout", timeout.String())
	}
	for _, nd := range nodes {
		nd.waitJoined(t, "hooktap-q")
	}
	app := newCountingApp(t, 0)
	db := filepath.Join(t.TempDir(), "agent.db")
	agent := startProc(t, "listen", "--relay", nodes[0].url, "--channel", "q", "--forward-to", app.URL,
		"--db", db, "--no-tui", "--json")
	agent.line(t, `"type":"ready"`)
	if status, evt := postEvent(nodes[0].url+"/h/q", 0); status != 200 {
		t.Fatalf("before the kill: %d", status)
	} else {
		app.waitFor(t, []string{evt}, 20*time.Second)
	}

	for _, nd := range nodes[1:] {
		nd.p.cmd.Process.Kill()
		err := <-nd.p.done
		nd.p.done <- err // for the cleanup, which waits for it too
	}
	var refused []string
	for i := 1; i <= 3; i++ {
		start := time.Now()
		status, evt := postEvent(nodes[0].url+"/h/q", i)
		took := time.Since(start)
		if status >= 200 && status < 300 {
			t.Fatalf("%s: %d from a node without a majority", evt, status)
		}
		refused = append(refused, evt)
		if took > timeout+5*time.Second {
			t.Errorf("%s: answered %d after %v with --response-timeout %v", evt, status, took.Round(time.Millisecond), timeout)
		}
	}

	for _, nd := range nodes[1:] {
		nd.start(t, "hooktap-q", routes, "--response-timeout", timeout.String())
	}
	for _, nd := range nodes[1:] {
		nd.waitJoined(t, "hooktap-q")
	}
	var marker string
	for deadline := time.Now().Add(60 * time.Second); marker == ""; {
		status, evt := postEvent(nodes[0].url+"/h/q", 100)
		if status == 200 {
			marker = evt
		} else if time.Now().After(deadline) {
			t.Fatalf("no 200 after the nodes came back: %d", status)
		} else {
			time.Sleep(100 * time.Millisecond) // the cluster elects its leaders: a poll with a deadline
		}
	}
	app.waitFor(t, []string{marker}, 30*time.Second) // after the refused ones in the stream
	app.mu.Lock()
	for _, evt := range refused {
		if n := app.seen[evt]; n > 0 {
			t.Errorf("%s: its sender got no 2xx, and the app saw it %d time(s)", evt, n)
		}
	}
	app.mu.Unlock()
	agent.stop(t)
	for _, nd := range nodes {
		nd.p.stop(t)
	}
}
