package main

import (
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Two of three nodes killed: the survivor cannot store (no majority). Its
// /healthz says so, so that a load balancer stops sending to it; a sender
// that reaches it all the same gets 503 at once, and what it was refused
// never reaches the app, also once the two come back (the sender retries
// it, and the app would see it twice). The node logs each change once.
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
	agent := startProc(t, "listen", "--no-web", "--relay", nodes[0].url, "--channel", "q", "--forward-to", app.URL,
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
	killed := time.Now()
	health := func() (int, string) {
		resp, err := http.Get(nodes[0].url + "/healthz")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return resp.StatusCode, string(b)
	}
	for deadline := killed.Add(40 * time.Second); ; {
		status, body := health()
		if status == http.StatusServiceUnavailable {
			if !strings.Contains(body, "cannot reach a majority of its cluster") {
				t.Fatalf("/healthz 503 says %q", body)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("/healthz still %d %q 40s after two of three nodes died", status, body)
		}
		time.Sleep(200 * time.Millisecond) // a load balancer's health check: a poll with a deadline
	}
	t.Logf("/healthz said 503 %v after the kill", time.Since(killed).Round(100*time.Millisecond))
	_, errOut, code := hooktapOut(t, nil, "healthcheck", nodes[0].url+"/healthz")
	if code != 1 || !strings.Contains(errOut, "503") || !strings.Contains(errOut, "cannot reach a majority") {
		t.Errorf("healthcheck of the survivor: exit %d %q", code, errOut)
	}
	var refused []string
	for i := 1; i <= 3; i++ {
		start := time.Now()
		status, evt := postEvent(nodes[0].url+"/h/q", i)
		took := time.Since(start)
		if status != http.StatusServiceUnavailable {
			t.Fatalf("%s: %d from a node without a majority, want 503", evt, status)
		}
		refused = append(refused, evt)
		t.Logf("%s: 503 in %v", evt, took.Round(time.Millisecond))
		if took > 3*time.Second {
			t.Errorf("%s: answered %d after %v; want it at once", evt, status, took.Round(time.Millisecond))
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
	if status, body := health(); status != 200 {
		t.Errorf("/healthz after a 200 to a sender: %d %q", status, body)
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
	log := nodes[0].p.stderr.String() // it has exited
	if n := strings.Count(log, "cannot reach a majority of its cluster:"); n != 1 {
		t.Errorf("the survivor logged the loss %d times, want once:\n%s", n, log)
	}
	if n := strings.Count(log, "reaches a majority of its cluster again"); n != 1 {
		t.Errorf("the survivor logged the return %d times, want once:\n%s", n, log)
	}
}
