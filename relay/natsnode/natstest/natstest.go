// Package natstest starts real, in-process NATS servers with JetStream for
// tests: one, or a cluster on 127.0.0.1 that a test can kill and restart.
package natstest

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/hooktap/hooktap/relay/natsnode"
	"github.com/hooktap/hooktap/relay/natsnode/freeport"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// MaxPayload fits a delivery of the largest --max-body the tests use.
const MaxPayload = 16 << 20

// ReadyTimeout bounds every wait for a cluster to form or a server to rejoin.
const ReadyTimeout = 60 * time.Second

// ClusterName is the NATS cluster name of every test cluster.
const ClusterName = "hooktap-test"

// HangLimit is how long a test with a cluster may run before Watchdog
// ends the test binary. A cluster test takes 2-15 s, some 3x that on a
// loaded CI machine; only a hang runs for minutes.
const HangLimit = 4 * time.Minute

// C is a running set of NATS servers.
type C struct {
	t            testing.TB
	dir          string
	clientPorts  []int
	clusterPorts []int

	mu      sync.Mutex
	servers []*server.Server // nil while killed
}

// Cluster starts n NATS servers with JetStream, clustered when n >= 2, and
// waits until JetStream is ready (a meta leader, every server current).
// They are shut down on t.Cleanup.
func Cluster(t testing.TB, n int) *C {
	t.Helper()
	if n < 1 {
		t.Fatalf("natstest: %d servers", n)
	}
	Watchdog(t, HangLimit)     // first: its cleanup runs last, after every close
	ports := freePorts(t, 2*n) // routes name each other's ports: pick them first
	c := &C{
		t:            t,
		dir:          t.TempDir(),
		clientPorts:  ports[:n],
		clusterPorts: ports[n:],
		servers:      make([]*server.Server, n),
	}
	t.Cleanup(c.shutdown)
	for i := range n {
		c.start(i)
	}
	c.waitReady()
	return c
}

// Watchdog ends the test binary (status 2) if t is still running, its
// cleanups included, after limit: it writes every goroutine's stack to
// stderr and then, as its last line, which test hung. Without it a hang
// runs into go test's -timeout, whose dump CI cuts before it names the
// test; a tail of the output shows this line.
func Watchdog(t testing.TB, limit time.Duration) {
	name := t.Name()
	timer := time.AfterFunc(limit, func() {
		buf := make([]byte, 1<<20)
		for {
			n := runtime.Stack(buf, true)
			if n < len(buf) {
				buf = buf[:n]
				break
			}
			buf = make([]byte, 2*len(buf))
		}
		os.Stderr.Write(buf)
		fmt.Fprintf(os.Stderr, "\n%s hung: still running after %s (goroutines above)\n", name, limit)
		os.Exit(2)
	})
	t.Cleanup(func() { timer.Stop() })
}

// options builds server i's options afresh (the server keeps and mutates
// the ones it is given, so a restart must not reuse them).
func (c *C) options(i int) *server.Options {
	n := len(c.servers)
	o := &server.Options{
		ServerName: c.name(i),
		Host:       "127.0.0.1",
		Port:       c.clientPorts[i],
		JetStream:  true,
		StoreDir:   filepath.Join(c.dir, c.name(i)),
		MaxPayload: MaxPayload,
		MaxPending: 4 * MaxPayload,
		NoLog:      true,
		NoSigs:     true,
	}
	if n >= 2 {
		o.Cluster = server.ClusterOpts{Name: ClusterName, Host: "127.0.0.1", Port: c.clusterPorts[i]}
		for j := range n {
			if j != i {
				o.Routes = append(o.Routes, &url.URL{Scheme: "nats", Host: "127.0.0.1:" + strconv.Itoa(c.clusterPorts[j])})
			}
		}
	}
	return o
}

func (c *C) name(i int) string { return fmt.Sprintf("n%d", i) }

func (c *C) start(i int) {
	c.t.Helper()
	s, err := server.NewServer(c.options(i))
	if err != nil {
		c.t.Fatalf("natstest: server %d: %v", i, err)
	}
	s.Start()
	if !s.ReadyForConnections(10 * time.Second) {
		s.Shutdown()
		c.t.Fatalf("natstest: server %d not accepting connections", i)
	}
	c.mu.Lock()
	c.servers[i] = s
	c.mu.Unlock()
}

// N is the number of servers (running or killed).
func (c *C) N() int { return len(c.servers) }

// URLs are the client URLs of all servers.
func (c *C) URLs() []string {
	out := make([]string, len(c.servers))
	for i := range out {
		out[i] = c.URL(i)
	}
	return out
}

// URL is server i's client URL (the same across Kill and Restart).
func (c *C) URL(i int) string { return "nats://127.0.0.1:" + strconv.Itoa(c.clientPorts[i]) }

// Name is server i's server name ("n0", "n1", ...), as JetStream reports
// it in stream and consumer cluster info.
func (c *C) Name(i int) string { return c.name(i) }

// Index is the index of the server named name, or -1.
func (c *C) Index(name string) int {
	for i := range c.servers {
		if c.name(i) == name {
			return i
		}
	}
	return -1
}

// Server is server i, or nil while it is killed.
func (c *C) Server(i int) *server.Server {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.servers[i]
}

// Kill shuts server i down at once (its clients see the connection drop).
func (c *C) Kill(i int) {
	c.mu.Lock()
	s := c.servers[i]
	c.servers[i] = nil
	c.mu.Unlock()
	if s == nil {
		c.t.Fatalf("natstest: Kill(%d): not running", i)
	}
	s.Shutdown()
	s.WaitForShutdown()
}

// Restart starts killed server i again with its name, store dir and ports,
// and waits until it has rejoined the cluster and is current.
func (c *C) Restart(i int) {
	c.t.Helper()
	if c.Server(i) != nil {
		c.t.Fatalf("natstest: Restart(%d): still running", i)
	}
	c.start(i)
	c.waitReady()
}

// Node is a natsnode.Node connected to server i (its client reconnects to
// the other servers when i dies), closed on t.Cleanup.
func (c *C) Node(t testing.TB, i int) *natsnode.Node {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), ReadyTimeout)
	defer cancel()
	n, err := natsnode.Start(ctx, natsnode.Options{
		URLs:         c.URL(i),
		NodeName:     fmt.Sprintf("relay%d", i),
		Replicas:     min(3, len(c.servers)),
		ReadyTimeout: ReadyTimeout,
	})
	if err != nil {
		t.Fatalf("natstest: Node(%d): %v", i, err)
	}
	t.Cleanup(func() { n.Close() })
	return n
}

// MetaLeader is the index of the JetStream meta leader, or -1 for none.
func (c *C) MetaLeader() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	for i, s := range c.servers {
		if s != nil && s.JetStreamIsLeader() {
			return i
		}
	}
	return -1
}

// StreamLeader is the index of the server leading stream (in the global
// account), waiting for one to be elected; it fails the test after
// ReadyTimeout.
func (c *C) StreamLeader(t testing.TB, stream string) int {
	t.Helper()
	var last error
	deadline := time.Now().Add(ReadyTimeout)
	for time.Now().Before(deadline) {
		for i := range c.servers {
			if c.Server(i) == nil {
				continue
			}
			name, err := c.streamLeader(i, stream)
			if err != nil {
				last = err
				continue
			}
			if j := c.Index(name); j >= 0 && c.Server(j) != nil {
				return j
			}
		}
		time.Sleep(50 * time.Millisecond) // polling the cluster, no signal to wait on
	}
	t.Fatalf("natstest: no leader for stream %s: %v", stream, last)
	return -1
}

func (c *C) streamLeader(i int, stream string) (string, error) {
	nc, err := nats.Connect(c.URL(i), nats.Timeout(2*time.Second))
	if err != nil {
		return "", err
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return "", err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	s, err := js.Stream(ctx, stream)
	if err != nil {
		return "", err
	}
	info, err := s.Info(ctx)
	if err != nil {
		return "", err
	}
	if info.Cluster == nil || info.Cluster.Leader == "" {
		return "", fmt.Errorf("stream %s has no leader", stream)
	}
	return info.Cluster.Leader, nil
}

// waitReady waits until the running servers are routed to each other, a
// meta leader is elected, every one is current, and JetStream answers an
// account info request through each.
func (c *C) waitReady() {
	c.t.Helper()
	deadline := time.Now().Add(ReadyTimeout)
	var why string
	for time.Now().Before(deadline) {
		if why = c.notReady(); why == "" {
			return
		}
		time.Sleep(50 * time.Millisecond) // polling the servers, no signal to wait on
	}
	c.t.Fatalf("natstest: cluster not ready after %s: %s", ReadyTimeout, why)
}

func (c *C) notReady() string {
	c.mu.Lock()
	var running []int
	for i, s := range c.servers {
		if s != nil {
			running = append(running, i)
		}
	}
	c.mu.Unlock()
	if len(c.servers) >= 2 && c.MetaLeader() < 0 {
		return "no JetStream meta leader"
	}
	for _, i := range running {
		s := c.Server(i)
		if s == nil {
			return fmt.Sprintf("server %d gone", i)
		}
		if len(c.servers) >= 2 && s.NumRoutes() < len(running)-1 {
			return fmt.Sprintf("server %d has %d routes of %d", i, s.NumRoutes(), len(running)-1)
		}
		if !s.JetStreamIsCurrent() {
			return fmt.Sprintf("server %d not current", i)
		}
		if err := c.accountInfo(i); err != nil {
			return fmt.Sprintf("server %d: %v", i, err)
		}
	}
	return ""
}

func (c *C) accountInfo(i int) error {
	nc, err := nats.Connect(c.URL(i), nats.Timeout(2*time.Second))
	if err != nil {
		return err
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_, err = js.AccountInfo(ctx)
	return err
}

func (c *C) shutdown() {
	c.mu.Lock()
	servers := append([]*server.Server(nil), c.servers...)
	c.mu.Unlock()
	for _, s := range servers {
		if s != nil {
			s.Shutdown()
		}
	}
	for _, s := range servers {
		if s != nil {
			s.WaitForShutdown()
		}
	}
}

// freePorts picks n distinct free TCP ports on 127.0.0.1, holding them all
// open until every one is chosen so none is picked twice.
func freePorts(t testing.TB, n int) []int {
	t.Helper()
	ports, err := freeport.Ports(n)
	if err != nil {
		t.Fatalf("natstest: %v", err)
	}
	return ports
}
