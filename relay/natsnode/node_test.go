package natsnode

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/hooktap/hooktap/relay/natsnode/freeport"
)

// freePorts picks n distinct free ports on 127.0.0.1.
func freePorts(t *testing.T, n int) []string {
	t.Helper()
	ports, err := freeport.Ports(n)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, p := range ports {
		out = append(out, "127.0.0.1:"+strconv.Itoa(p))
	}
	return out
}

// logBuf collects a logger's lines for assertions.
type logBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuf) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// Three embedded nodes that list the same routes (each its own among them)
// form one cluster with replicas 3; a stream created through one is read
// through another; the payload limit fits MaxPayload.
func TestEmbeddedClusterOfThree(t *testing.T) {
	listen := freePorts(t, 3)
	var routes []string
	for _, l := range listen {
		routes = append(routes, "nats://"+l)
	}
	nodes := make([]*Node, 3)
	errs := make([]error, 3)
	logs := make([]*logBuf, 3)
	var wg sync.WaitGroup
	for i := range 3 {
		logs[i] = &logBuf{}
		wg.Go(func() {
			nodes[i], errs[i] = Start(context.Background(), Options{
				ClusterName: "hooktap-t", ClusterListen: listen[i], Routes: routes,
				NodeName: fmt.Sprintf("node%c", 'a'+i), DataDir: t.TempDir(),
				MaxPayload: 10 << 20, Logger: slog.New(slog.NewTextHandler(logs[i], nil)),
			})
		})
	}
	wg.Wait()
	for i, n := range nodes {
		if errs[i] != nil {
			t.Fatalf("node %d: %v", i, errs[i])
		}
		t.Cleanup(func() { n.Close() })
		if n.Replicas != 3 {
			t.Errorf("node %d: Replicas = %d, want 3", i, n.Replicas)
		}
		if l := logs[i].String(); !strings.Contains(l, "backend=embedded cluster=hooktap-t node=node") {
			t.Errorf("node %d logged %q, want the cluster it joined", i, l)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := nodes[0].JS.CreateStream(ctx, jetstream.StreamConfig{Name: "HOOKTAP_T", Subjects: []string{"hooktap.t.>"}, Replicas: 3}); err != nil {
		t.Fatal(err)
	}
	big := bytes.Repeat([]byte("y"), 10<<20)
	if _, err := nodes[0].JS.Publish(ctx, "hooktap.t.a", big); err != nil {
		t.Fatalf("publish 10 MiB: %v", err)
	}
	s, err := nodes[2].JS.Stream(ctx, "HOOKTAP_T")
	if err != nil {
		t.Fatal(err)
	}
	m, err := s.GetMsg(ctx, 1)
	if err != nil || len(m.Data) != len(big) {
		t.Fatalf("read through node c: %v", err)
	}
	info, err := s.Info(ctx)
	if err != nil || info.Cluster == nil || len(info.Cluster.Replicas) != 2 {
		t.Fatalf("stream not on 3 servers: %+v %v", info, err)
	}
}

// One node of three, alone: Start gives up with an error naming the
// cluster and how many nodes it still waits for.
func TestEmbeddedClusterDoesNotForm(t *testing.T) {
	ports := freePorts(t, 3)
	_, err := Start(context.Background(), Options{
		ClusterName: "lonely", ClusterListen: ports[0],
		Routes:   []string{"nats://" + ports[1], "nats://" + ports[2]},
		NodeName: "a", DataDir: t.TempDir(), ReadyTimeout: 2 * time.Second,
	})
	if err == nil || !strings.Contains(err.Error(), "waiting for 2 more node(s) of cluster lonely") {
		t.Fatalf("err = %v", err)
	}
}

// A single embedded node without a cluster: JetStream on its own, one replica.
func TestEmbeddedSingle(t *testing.T) {
	n, err := Start(context.Background(), Options{NodeName: "solo", DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	if n.Replicas != 1 {
		t.Fatalf("Replicas = %d", n.Replicas)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := n.JS.CreateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: "hooktap_t"}); err != nil {
		t.Fatal(err)
	}
}

// Nothing listens: the error names the URL, and never its password.
func TestExternalUnreachable(t *testing.T) {
	addr := freePorts(t, 1)[0]
	_, err := Start(context.Background(), Options{URLs: "nats://bob:s3cret@" + addr})
	if err == nil {
		t.Fatal("connected to nothing")
	}
	msg := err.Error()
	if !strings.Contains(msg, "cannot connect to nats://"+addr) || strings.Contains(msg, "s3cret") || strings.Contains(msg, "\n") {
		t.Fatalf("err = %q", msg)
	}
}

func TestOptionErrors(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct {
		opts Options
		want string
	}{
		{Options{URLs: "nats://x:4222", ClusterName: "c"}, "exclude each other"},
		{Options{DataDir: dir, ClusterListen: "127.0.0.1:0"}, "needs a cluster name"},
		{Options{DataDir: dir, Routes: []string{"nats://a:1"}}, "need a cluster listen address"},
		{Options{DataDir: dir, ClusterName: "c", ClusterListen: "127.0.0.1:0", Routes: []string{"a:6222"}}, `cluster route "a:6222": want nats://host:port`},
		{Options{DataDir: dir, ClusterName: "c", ClusterListen: "nohost"}, `cluster listen address "nohost"`},
		{Options{ClusterName: "c"}, "needs a data directory"},
		{Options{URLs: "nats://127.0.0.1:1", Creds: dir + "/missing.creds"}, "--nats-creds"},
	} {
		_, err := Start(context.Background(), c.opts)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: err = %v, want %q", c.opts, err, c.want)
		}
	}
}

func TestClusterSizeSkipsSelf(t *testing.T) {
	for _, c := range []struct {
		listen string
		routes []string
		want   int
	}{
		{"127.0.0.1:6222", []string{"nats://127.0.0.1:6222", "nats://127.0.0.1:6223", "nats://127.0.0.1:6224"}, 3},
		{"127.0.0.1:6222", []string{"nats://127.0.0.1:6223", "nats://127.0.0.1:6224"}, 3},
		{"127.0.0.1:6222", []string{"nats://localhost:6222", "nats://127.0.0.1:6223"}, 2},
		{"0.0.0.0:6222", []string{"nats://127.0.0.1:6222", "nats://127.0.0.1:6223"}, 2},
		{"127.0.0.1:6222", nil, 1},
	} {
		if got := clusterSize(Options{ClusterListen: c.listen, Routes: c.routes}); got != c.want {
			t.Errorf("clusterSize(%s, %v) = %d, want %d", c.listen, c.routes, got, c.want)
		}
	}
}

// trio is a cluster of three embedded nodes on loopback.
type trio struct{ listen, routes, dirs []string }

func newTrio(t *testing.T) trio {
	c := trio{listen: freePorts(t, 3)}
	for _, l := range c.listen {
		c.routes = append(c.routes, "nats://"+l)
		c.dirs = append(c.dirs, t.TempDir())
	}
	return c
}

// opts are node i's options: named nodea, nodeb, nodec.
func (c trio) opts(i int) Options {
	return Options{ClusterName: "hooktap-t", ClusterListen: c.listen[i], Routes: c.routes,
		NodeName: fmt.Sprintf("node%c", 'a'+i), DataDir: c.dirs[i]}
}

// start starts the three at once (a cluster forms when all are there),
// closed on cleanup.
func (c trio) start(t *testing.T) []*Node {
	t.Helper()
	nodes := make([]*Node, 3)
	errs := make([]error, 3)
	var wg sync.WaitGroup
	for i := range 3 {
		wg.Go(func() { nodes[i], errs[i] = Start(context.Background(), c.opts(i)) })
	}
	wg.Wait()
	for i, n := range nodes {
		if errs[i] != nil {
			t.Fatalf("node %d: %v", i, errs[i])
		}
		t.Cleanup(func() { n.Close() })
	}
	return nodes
}

// A clustered node's store keeps the name it ran under: started again as
// another node it would leave its old name a dead member of every stream
// (one more node down and nothing can be written), so Start refuses it in
// one line naming the old name; under its own name it rejoins.
func TestEmbeddedStoreKeepsItsNodeName(t *testing.T) {
	c := newTrio(t)
	opts := func(i int, name string) Options {
		o := c.opts(i)
		o.NodeName = name
		return o
	}
	nodes := c.start(t)
	nodes[2].Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	n, err := Start(ctx, opts(2, "nodez"))
	if err == nil {
		n.Close()
		t.Fatal("node c's store started as nodez; want it refused")
	}
	if want := `is node "nodec"'s; start it with --node-name nodec`; !strings.Contains(err.Error(), want) || strings.Contains(err.Error(), "\n") {
		t.Fatalf("error %q, want one line with %q", err, want)
	}
	n, err = Start(ctx, opts(2, "nodec"))
	if err != nil {
		t.Fatalf("node c under its own name: %v", err)
	}
	n.Close()
}

// One node of three down for good, a second restarted on its store: it
// was a member, so a majority (itself and the third) is enough to start
// (it used to wait for every node its routes name, and stop after its
// minute, leaving the third without a majority).
func TestEmbeddedMemberRestartsWithMajority(t *testing.T) {
	c := newTrio(t)
	nodes := c.start(t)
	nodes[2].Close() // down for good
	nodes[1].Close()
	opts := c.opts(1)
	opts.ReadyTimeout = 20 * time.Second
	n, err := Start(context.Background(), opts)
	if err != nil {
		t.Fatalf("node b restarted beside a, with c down: %v", err)
	}
	defer n.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	kv, err := n.JS.KeyValue(ctx, NodesBucket)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kv.Put(ctx, "written", []byte("with two of three")); err != nil {
		t.Fatalf("write with a and b: %v", err)
	}
}

// Close returns though the connection's closed callback never runs:
// nats.go runs its callbacks one at a time, and here the error callback
// before it is stuck, logging a drain timeout to a writer that blocks (as
// a stderr nobody reads does).
func TestCloseReturnsWhenCallbacksStall(t *testing.T) {
	unblock := make(chan struct{})
	n, err := Start(context.Background(), Options{NodeName: "solo", DataDir: t.TempDir(),
		Logger: slog.New(stallingHandler{unblock})})
	if err != nil {
		t.Fatal(err)
	}
	// A handler still busy when DrainTimeout ends: the drain reports it
	// to the error callback.
	if _, err := n.Conn.Subscribe("busy", func(*nats.Msg) { <-unblock }); err != nil {
		t.Fatal(err)
	}
	if err := n.Conn.Publish("busy", nil); err != nil {
		t.Fatal(err)
	}
	if err := n.Conn.Flush(); err != nil {
		t.Fatal(err)
	}
	defer close(unblock) // after Close: the callbacks end too
	closed := make(chan struct{})
	go func() {
		n.Close()
		close(closed)
	}()
	select {
	case <-closed:
	case <-time.After(closeWait + 20*time.Second):
		t.Fatal("Close still waits for the closed callback")
	}
}

// stallingHandler blocks the warnings of the connection's error callback
// (those with a subject) until unblock is closed, and drops every record.
type stallingHandler struct{ unblock chan struct{} }

func (h stallingHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h stallingHandler) WithAttrs([]slog.Attr) slog.Handler       { return h }
func (h stallingHandler) WithGroup(string) slog.Handler            { return h }
func (h stallingHandler) Handle(_ context.Context, r slog.Record) error {
	r.Attrs(func(a slog.Attr) bool {
		if a.Key == "subject" {
			<-h.unblock
			return false
		}
		return true
	})
	return nil
}
