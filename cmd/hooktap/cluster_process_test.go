package main

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
)

// relayNode is one `hooktap relay` process of an embedded cluster.
type relayNode struct {
	p            *proc
	url          string // its HTTP base URL
	name, listen string // node name, cluster listen address
	data         string
}

// startClusterNodes starts n `hooktap relay` processes that embed a NATS
// server each and form the cluster name on loopback, and waits until each
// has printed the backend it joined.
func startClusterNodes(t *testing.T, name string, n int, extra ...string) []*relayNode {
	t.Helper()
	nodes := make([]*relayNode, n)
	var routes []string
	for i := range nodes {
		nodes[i] = &relayNode{name: fmt.Sprintf("node%c", 'a'+i), listen: freeAddr(t), data: t.TempDir()}
		routes = append(routes, "nats://"+nodes[i].listen)
	}
	for _, nd := range nodes {
		nd.start(t, name, strings.Join(routes, ","), extra...)
	}
	for _, nd := range nodes {
		nd.waitJoined(t, name)
	}
	return nodes
}

func (nd *relayNode) start(t *testing.T, cluster, routes string, extra ...string) {
	t.Helper()
	nd.p = startProc(t, append([]string{"relay", "--addr", "127.0.0.1:0", "--data", nd.data,
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
