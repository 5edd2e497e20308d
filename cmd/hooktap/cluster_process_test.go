package main

import (
	"cmp"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// relayNode is one `hooktap relay` process of an embedded cluster.
type relayNode struct {
	p            *proc
	addr         string // its --addr ("": a free port, read from its banner)
	url          string // its HTTP base URL
	name, listen string // node name, cluster listen address
	data         string
}

// startClusterNodes starts n `hooktap relay` processes that embed a NATS
// server each and form the cluster name on loopback, and waits until each
// has printed the backend it joined.
func startClusterNodes(t *testing.T, name string, n int, extra ...string) []*relayNode {
	t.Helper()
	nodes, routes := newClusterNodes(t, n)
	for _, nd := range nodes {
		nd.start(t, name, routes, extra...)
	}
	for _, nd := range nodes {
		nd.waitJoined(t, name)
	}
	return nodes
}

// newClusterNodes names n nodes and their cluster addresses, and returns
// the --cluster-routes they share.
func newClusterNodes(t *testing.T, n int) ([]*relayNode, string) {
	nodes := make([]*relayNode, n)
	var routes []string
	for i := range nodes {
		nodes[i] = &relayNode{name: fmt.Sprintf("node%c", 'a'+i), listen: freeAddr(t), data: t.TempDir()}
		routes = append(routes, "nats://"+nodes[i].listen)
	}
	return nodes, strings.Join(routes, ",")
}

func (nd *relayNode) start(t *testing.T, cluster, routes string, extra ...string) {
	t.Helper()
	nd.p = startProc(t, append([]string{"relay", "--addr", cmp.Or(nd.addr, "127.0.0.1:0"), "--data", nd.data,
		"--cluster-name", cluster, "--cluster-listen", nd.listen, "--cluster-routes", routes, "--node-name", nd.name}, extra...)...)
}

// waitJoined reads the node's banner: where it listens, and the cluster it
// joined (printed only once JetStream is ready).
func (nd *relayNode) waitJoined(t *testing.T, cluster string) {
	t.Helper()
	l := nd.p.line(t, "listening on ")
	nd.url = "http://" + strings.Fields(l[strings.Index(l, "listening on ")+len("listening on "):])[0]
	want := fmt.Sprintf("backend: NATS JetStream embedded, cluster %s, node %s, 3 replica(s)", cluster, nd.name)
	if got := nd.p.line(t, "backend:"); !strings.Contains(got, want) {
		t.Fatalf("%s: %q, want %q", nd.name, got, want)
	}
}

// Three relay processes with nothing else installed form one cluster on
// loopback: each serves, and names the cluster and its 3 replicas.
func TestProcessRelayClusterForms(t *testing.T) {
	nodes := startClusterNodes(t, "hooktap-p", 3)
	for _, nd := range nodes {
		resp, err := http.Get(nd.url + "/healthz")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || string(b) != "ok\n" {
			t.Fatalf("%s healthz: %d %q", nd.name, resp.StatusCode, b)
		}
	}
	for _, nd := range nodes {
		nd.p.stop(t)
	}
}

// kill -9 of one relay process (its embedded NATS server with it) while
// deliveries stream through the other two: every delivery a node answered
// 2xx reaches the app and is stored once by the agent. The agent is on
// node a; senders post to nodes b and c, then to b alone once c is dead,
// as a load balancer would.
func TestProcessRelayClusterKill9(t *testing.T) {
	nodes := startClusterNodes(t, "hooktap-k", 3, "--response-timeout", "2s")
	app := newCountingApp(t, 0)
	db := filepath.Join(t.TempDir(), "agent.db")
	agent := startProc(t, "listen", "--no-web", "--relay", nodes[0].url, "--channel", "kill", "--forward-to", app.URL,
		"--db", db, "--no-tui", "--json")
	agent.line(t, `"type":"ready"`)

	const n = 300
	var cDead atomic.Bool
	var mu sync.Mutex
	var accepted []string
	statuses := map[int]int{}
	jobs := make(chan int)
	var sent atomic.Int32
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for i := range jobs {
				target := nodes[1+i%2]
				if cDead.Load() {
					target = nodes[1]
				}
				status, evt := postEvent(target.url+"/h/kill", i)
				mu.Lock()
				statuses[status]++
				if status >= 200 && status < 300 {
					accepted = append(accepted, evt)
				}
				mu.Unlock()
				sent.Add(1)
			}
		})
	}
	for i := range n {
		if i == 100 {
			for sent.Load() < 80 {
				time.Sleep(5 * time.Millisecond) // polling a counter the senders bump
			}
			cDead.Store(true)
			nodes[2].p.cmd.Process.Kill() // kill -9 mid-stream
		}
		jobs <- i
	}
	close(jobs)
	wg.Wait()

	mu.Lock()
	want := append([]string(nil), accepted...)
	t.Logf("answers: %v", statuses)
	mu.Unlock()
	if len(want) < n*2/3 {
		t.Fatalf("only %d of %d accepted: %v", len(want), n, statuses)
	}
	app.waitFor(t, want, 60*time.Second)
	agent.stop(t)
	stored := storedEvents(t, db)
	for _, id := range want {
		if stored[id] != 1 {
			t.Errorf("%s was accepted and is stored %d times", id, stored[id])
		}
	}
	for _, nd := range nodes[:2] {
		nd.p.stop(t)
		// Node c's routes failed to connect every second since the kill:
		// a warning per route at most (once a minute), no error.
		seen := map[string]bool{}
		for _, l := range strings.Split(nd.p.stderr.String(), "\n") {
			switch {
			case strings.Contains(l, "level=ERROR") && strings.Contains(l, "connect to route"):
				t.Errorf("%s: a failed route logged as an error: %s", nd.name, l)
			case strings.Contains(l, "level=WARN") && strings.Contains(l, "cluster route"):
				route := l[strings.Index(l, "route="):]
				route = route[:strings.IndexByte(route+" ", ' ')]
				if seen[route] {
					t.Errorf("%s: a second warning for %s (node c's cluster address is %s): %s", nd.name, route, nodes[2].listen, l)
				}
				seen[route] = true
			}
		}
	}
}

// A node that waits for the rest of its cluster answers on its --addr at
// once: 503 "starting" to health checks and senders alike (no 2xx before
// a delivery can be stored). Once the others come, it serves.
func TestProcessRelayClusterStartingAnswers503(t *testing.T) {
	nodes, routes := newClusterNodes(t, 3)
	a := nodes[0]
	a.addr = freeAddr(t)
	a.start(t, "hooktap-s", routes)
	client := &http.Client{Timeout: 5 * time.Second}
	var resp *http.Response
	var err error
	for deadline := time.Now().Add(20 * time.Second); ; {
		if resp, err = client.Get("http://" + a.addr + "/healthz"); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no answer on --addr %s while the node waits for its cluster: %v", a.addr, err)
		}
		time.Sleep(20 * time.Millisecond) // the process is starting: a poll with a deadline
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(string(b), "starting") {
		t.Fatalf("healthz before the cluster formed: %d %q, want 503 starting", resp.StatusCode, b)
	}
	if status, _ := postEvent("http://"+a.addr+"/h/early", 1); status != http.StatusServiceUnavailable {
		t.Fatalf("POST before the cluster formed: %d, want 503", status)
	}

	for _, nd := range nodes[1:] {
		nd.start(t, "hooktap-s", routes)
	}
	for _, nd := range nodes {
		nd.waitJoined(t, "hooktap-s")
	}
	if resp, err = client.Get(a.url + "/healthz"); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("healthz once joined: %v %v", resp, err)
	}
	resp.Body.Close()
	if status, _ := postEvent(a.url+"/h/early", 2); status != http.StatusAccepted {
		t.Fatalf("POST once joined: %d, want 202 (kept: no agent yet)", status)
	}
	for _, nd := range nodes {
		nd.p.stop(t)
	}
}

// A node whose --addr is taken stops at once with one line, before it
// waits for (or joins) the cluster: the other nodes here never come.
func TestProcessRelayClusterAddrTaken(t *testing.T) {
	busy := freeAddr(t)
	l, err := net.Listen("tcp", busy)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	listen := freeAddr(t)
	p := startProc(t, "relay", "--addr", busy, "--data", t.TempDir(), "--node-name", "a",
		"--cluster-name", "taken", "--cluster-listen", listen, "--cluster-routes", "nats://"+listen+",nats://"+freeAddr(t))
	select {
	case err := <-p.done:
		p.done <- err // for the cleanup, which waits for it too
		if err == nil || !strings.Contains(p.stderr.String(), "address already in use") || strings.Count(strings.TrimSpace(p.stderr.String()), "\n") != 0 {
			t.Fatalf("exit %v, stderr %q; want one line naming the address in use", err, p.stderr)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("still running after 10s with --addr %s taken; stderr %q", busy, p.stderr)
	}
}
