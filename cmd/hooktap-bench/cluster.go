package main

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
)

// The cluster section runs three `hooktap relay` processes that embed a
// NATS server each and form one cluster on loopback (replicas 3), with the
// agent on one node and the senders posting to another, so that every
// delivery crosses nodes. It takes turns in rounds with the direct POST and
// the single-node relay (the same agent program, the same app), and then
// measures a node's memory per idle agent, and that of a `hooktap relay
// --nats` process on three external NATS servers (natsext.go).

// clusterAgents is how many idle agents the memory figure connects: as
// many as the single relay's figure, so that fixed costs (the embedded
// server's caches) are spread alike.
const clusterAgents = scaleAgents

// clusterNode is one relay process of the cluster.
type clusterNode struct {
	*child
	url string
}

// startCluster starts the three nodes at once (each waits for the others to
// elect a JetStream leader) and returns them once each has printed the
// backend it joined.
func startCluster(ctx context.Context, bin, dir string) ([]*clusterNode, error) {
	var routes []string
	var listens []string
	for range 3 {
		addr, err := freePort()
		if err != nil {
			return nil, err
		}
		listens = append(listens, addr)
		routes = append(routes, "nats://"+addr)
	}
	nodes := make([]*clusterNode, 0, 3)
	var ready []chan []string
	stopAll := func() {
		for _, n := range nodes {
			n.stop()
		}
	}
	for i := range 3 {
		name := fmt.Sprintf("node%c", 'a'+i)
		n, r, err := launchRelay(ctx, bin, "--addr", "127.0.0.1:0", "--data", filepath.Join(dir, name),
			"--cluster-name", "hooktap-bench", "--cluster-listen", listens[i], "--cluster-routes", strings.Join(routes, ","),
			"--node-name", name)
		if err != nil {
			stopAll()
			return nil, err
		}
		nodes = append(nodes, n)
		ready = append(ready, r)
	}
	for i, n := range nodes {
		if err := n.await(ready[i], fmt.Sprintf("cluster node %d", i)); err != nil {
			stopAll()
			return nil, err
		}
	}
	return nodes, nil
}

// launchRelay starts `hooktap relay args...`; the channel gets its
// "listening on" and "backend:" lines (see waitLines).
func launchRelay(ctx context.Context, bin string, args ...string) (*clusterNode, chan []string, error) {
	cmd := exec.CommandContext(ctx, bin, append([]string{"relay"}, args...)...)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, nil, err
	}
	c := &child{cmd: cmd, lines: bufio.NewScanner(out)}
	return &clusterNode{child: c}, waitLines(c, "listening on ", "backend:"), nil
}

// await waits for n to join its backend and sets its URL.
func (n *clusterNode) await(ready chan []string, what string) error {
	select {
	case lines, ok := <-ready:
		if !ok {
			return fmt.Errorf("%s ended before it joined", what)
		}
		l := lines[0]
		n.url = listenURL(l)
		return nil
	case <-time.After(60 * time.Second):
		return fmt.Errorf("%s did not join within 60s", what)
	}
}

// startRelayNode starts one relay node and waits for it to join; on error
// it is stopped.
func startRelayNode(ctx context.Context, bin, what string, args ...string) (*clusterNode, error) {
	n, ready, err := launchRelay(ctx, bin, args...)
	if err != nil {
		return nil, err
	}
	if err := n.await(ready, what); err != nil {
		n.stop()
		return nil, err
	}
	return n, nil
}

// waitLines reads c's stdout until a line containing each marker, in order,
// has been seen, sends those lines, and drains the rest so that c never
// blocks. The channel closes without a value if stdout ends first.
func waitLines(c *child, markers ...string) chan []string {
	found := make(chan []string, 1)
	go func() {
		var got []string
		for c.lines.Scan() {
			if len(got) < len(markers) && strings.Contains(c.lines.Text(), markers[len(got)]) {
				got = append(got, c.lines.Text())
				if len(got) == len(markers) {
					found <- got
				}
			}
		}
		if len(got) < len(markers) {
			close(found)
		}
	}()
	return found
}

// freePort is a loopback address no one listens on (for a cluster route
// listener, which must be known before the nodes start).
func freePort() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

func benchCluster(ctx context.Context, cfg config, t *table) error {
	raiseFileLimit()
	dir, err := os.MkdirTemp(cfg.dir, "hooktap-bench-cluster-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	bin, err := buildHooktap(ctx, dir)
	if err != nil {
		return err
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	app, line, err := startChild(ctx, "ADDR ", self, appMode)
	if err != nil {
		return err
	}
	defer app.stop()
	appURL := "http://" + strings.TrimPrefix(line, "ADDR ")

	single, singleURL, err := startRelay(ctx, bin, filepath.Join(dir, "single"))
	if err != nil {
		return err
	}
	defer single.stop()
	singleAgent, singleTun, err := startAgent(ctx, bin, singleURL, "bench", appURL, filepath.Join(dir, "single-agent.db"))
	if err != nil {
		return err
	}
	defer singleAgent.stop()

	nodes, err := startCluster(ctx, bin, dir)
	if err != nil {
		return err
	}
	defer func() {
		for _, n := range nodes {
			n.stop()
		}
	}()
	// The agent on node b; the senders post to node a.
	clusterAgent, _, err := startAgent(ctx, bin, nodes[1].url, "bench", appURL, filepath.Join(dir, "cluster-agent.db"))
	if err != nil {
		return err
	}
	defer clusterAgent.stop()
	clusterTun := nodes[0].url + "/h/bench"
	fmt.Fprintf(cfg.log, "cluster: three embedded nodes %s %s %s; agent on b, senders to a\n", nodes[0].url, nodes[1].url, nodes[2].url)

	bodies, err := monite()
	if err != nil {
		return err
	}
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64, MaxIdleConns: 128, Proxy: nil}, Timeout: 30 * time.Second}
	floorURL := appURL + "/webhooks"
	for _, u := range []string{floorURL, singleTun, clusterTun} {
		load(ctx, client, u, bodies, 4, 300)
	}
	before, err := appCount(client, appURL)
	if err != nil {
		return err
	}
	sent := 0
	for _, r := range []struct{ c, n int }{{1, 1200}, {32, 12000}} {
		r.n = max(rounds, int(float64(r.n)*cfg.tunnelScale)/rounds*rounds)
		floor := newPath(floorURL, [2]*child{app, nil})
		one := newPath(singleTun, [2]*child{single, singleAgent})
		clu := newPath(clusterTun, [2]*child{nodes[0].child, nodes[1].child}, [2]*child{nodes[2].child, clusterAgent})
		for range rounds {
			for _, p := range []*path{floor, one, clu} {
				p.run(ctx, client, bodies, r.c, r.n/rounds)
			}
		}
		sent += 3 * r.n
		name := fmt.Sprintf("c=%d", r.c)
		if r.c == 1 {
			t.add("cluster", name+" p50: direct / single relay / cluster", fmt.Sprintf("%s / %s / %s",
				msec(floor.res.quantile(.5)), msec(one.res.quantile(.5)), msec(clu.res.quantile(.5))), "", nil)
			t.add("cluster", name+" p50, cluster / single relay", fmt.Sprintf("%.2fx", float64(clu.res.quantile(.5))/float64(one.res.quantile(.5))), "", nil)
			t.add("cluster", name+" p99: single relay / cluster", fmt.Sprintf("%s / %s", msec(one.res.quantile(.99)), msec(clu.res.quantile(.99))), "", nil)
		} else {
			t.add("cluster", name+" deliveries/s: direct / single relay / cluster", fmt.Sprintf("%.0f / %.0f / %.0f",
				floor.res.perSecond(), one.res.perSecond(), clu.res.perSecond()), "", nil)
			t.add("cluster", name+" rate, cluster / single relay", fmt.Sprintf("%.2fx", clu.res.perSecond()/one.res.perSecond()), "", nil)
		}
		failed := floor.res.failed + one.res.failed + clu.res.failed
		t.add("cluster", name+" failed requests", strconv.Itoa(failed), "0", pass(failed == 0))
	}
	// Every delivery was answered by the app (a 202 would mean one is
	// still on its way: wait for it, bounded).
	var lost int64
	for deadline := time.Now().Add(30 * time.Second); ; {
		after, err := appCount(client, appURL)
		if err != nil {
			return err
		}
		if lost = int64(sent) - (after - before); lost <= 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond) // polling the app's counter
	}
	t.add("cluster", "lost deliveries", strconv.FormatInt(lost, 10), "0", pass(lost == 0))

	per, _, err := clusterIdleMemory(ctx, nodes[2], client)
	if err != nil {
		return err
	}
	t.add("cluster", fmt.Sprintf("an embedded node's resident memory per idle agent (%d agents)", clusterAgents),
		fmt.Sprintf("%.1f KiB", per), "<= 12 KiB", pass(per <= 12))

	relayPer, natsPer, err := externalIdleMemory(ctx, bin, self, dir, client)
	if err != nil {
		return fmt.Errorf("relay on external NATS: %w", err)
	}
	t.add("cluster", fmt.Sprintf("a --nats relay's resident memory per idle agent (%d agents)", clusterAgents),
		fmt.Sprintf("%.1f KiB", relayPer), "<= 12 KiB", pass(relayPer <= 12))
	t.add("cluster", "the external NATS servers' added memory per idle agent (sum of 3)",
		fmt.Sprintf("%.1f KiB", natsPer), "", nil)
	return nil
}

// clusterIdleMemory connects idle agents to node n and returns its resident
// memory per agent (an embedded NATS server's share included), and the
// growth of the other processes' (an external NATS cluster's) summed, per
// agent.
func clusterIdleMemory(ctx context.Context, n *clusterNode, client *http.Client, others ...*child) (float64, float64, error) {
	wsURL := "ws" + strings.TrimPrefix(n.url, "http") + "/agent"
	dialer := &websocket.Dialer{HandshakeTimeout: 30 * time.Second, ReadBufferSize: 1024, WriteBufferSize: 1024}
	var acks atomic.Int64
	connect := func(from, to int) ([]*idleAgent, error) {
		return connectIdle(ctx, dialer, wsURL, "idle", from, to, 32, &acks)
	}
	closeAll := closeIdle
	warm, err := connect(0, 50)
	closeAll(warm)
	if err != nil {
		return 0, 0, fmt.Errorf("warm-up agents: %w", err)
	}
	waitAgents(client, n.url, 0)
	client.CloseIdleConnections()
	pid := n.cmd.Process.Pid
	base := settledRSS(pid)
	othersBase := settledSum(others)
	agents, err := connect(50, 50+clusterAgents)
	defer closeAll(agents)
	if err != nil {
		return 0, 0, fmt.Errorf("connect %d agents: %w", clusterAgents, err)
	}
	waitAgents(client, n.url, clusterAgents)
	idle := settledRSS(pid)
	othersIdle := settledSum(others)
	return float64(idle-base) / clusterAgents, float64(othersIdle-othersBase) / clusterAgents, nil
}

// settledSum is the sum of cs' settled resident memory.
func settledSum(cs []*child) int64 {
	var sum int64
	for _, c := range cs {
		sum += settledRSS(c.cmd.Process.Pid)
	}
	return sum
}
