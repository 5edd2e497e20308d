package relay

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/hooktap/hooktap/relay/natsnode/natstest"
	"github.com/hooktap/hooktap/relay/wire"
)

// clusterRelays starts one relay node per server of a 3-server NATS
// cluster, each with cfg.
func clusterRelays(t *testing.T, cfg Config) ([]*Server, []*httptest.Server) {
	t.Helper()
	c := natstest.Cluster(t, 3)
	var srvs []*Server
	var tss []*httptest.Server
	for i := range 3 {
		cfg := cfg
		cfg.DataDir, cfg.Cluster = t.TempDir(), c.Node(t, i)
		srv, err := New(t.Context(), cfg)
		if err != nil {
			t.Fatal(err)
		}
		ts := httptest.NewServer(srv.Handler())
		t.Cleanup(func() { ts.CloseClientConnections(); ts.Close(); srv.Close() })
		srvs, tss = append(srvs, srv), append(tss, ts)
	}
	for _, s := range srvs {
		waitFor(t, "the census counts 3 nodes", func() bool { return s.stats.nodes.Load() == 3 })
	}
	return srvs, tss
}

// /metrics on any node sums the counters and agents of all three; the
// channel list on any node counts the agents of all three.
func TestClusterMetricsAndAgents(t *testing.T) {
	_, tss := clusterRelays(t, Config{AdminToken: testAdmin})
	code, body := api(t, "POST", tss[0].URL+"/api/channels", testAdmin, `{"name":"ops"}`)
	var ct ChannelToken
	if code != http.StatusCreated || json.Unmarshal(body, &ct) != nil {
		t.Fatalf("create: %d %s", code, body)
	}
	for _, ts := range tss {
		waitFor(t, "every node knows ops", func() bool {
			resp, _ := post(t, ts.URL+"/h/ops/x", []byte(`{"action":"a.b"}`))
			return resp.StatusCode == http.StatusAccepted
		})
	}
	// One agent on node b, one on node c.
	for i, ts := range tss[1:] {
		id := "agt_" + string(rune('b'+i))
		a := dialAgent(t, ts)
		a.send(&wire.Hello{Channel: "ops", Token: ct.Token, AgentID: id, AgentKey: testKey(id)})
		if m, ok := a.read().(*wire.Welcome); !ok {
			t.Fatalf("agent on node %d: %+v", i+1, m)
		}
	}
	for i, ts := range tss {
		code, body := api(t, "GET", ts.URL+"/metrics", testAdmin, "")
		for _, want := range []string{
			`hooktap_deliveries_received_total{channel="ops"} 3`,
			`hooktap_deliveries_answered_total{channel="ops",code="202"} 3`,
			`hooktap_delivery_duration_seconds_count{channel="ops"} 3`,
			`hooktap_agents_connected{channel="ops"} 2`,
			`hooktap_cluster_nodes_answering 3`,
		} {
			if code != 200 || !strings.Contains(string(body), want+"\n") {
				t.Errorf("node %d /metrics: %d, no %q in:\n%s", i, code, want, body)
			}
		}
	}
	code, body = api(t, "GET", tss[0].URL+"/api/channels", testAdmin, "")
	var list []ChannelStatus
	if code != 200 || json.Unmarshal(body, &list) != nil || len(list) != 1 || list[0].Agents != 2 {
		t.Fatalf("channel list on node a: %d %s", code, body)
	}
}

// --rate holds across nodes: with three nodes each takes a third of the
// burst, so a channel's burst of 3 is one POST per node at once.
func TestClusterRateShared(t *testing.T) {
	_, tss := clusterRelays(t, Config{Rate: 0.01, RateBurst: 3})
	var codes []int
	for range 2 {
		resp, _ := post(t, tss[0].URL+"/h/ops/x", []byte(`{}`))
		codes = append(codes, resp.StatusCode)
	}
	if codes[0] != http.StatusAccepted || codes[1] != http.StatusTooManyRequests {
		t.Fatalf("two POSTs to one node: %v, want [202 429]", codes)
	}
	for i, ts := range tss[1:] {
		if resp, _ := post(t, ts.URL+"/h/ops/x", []byte(`{}`)); resp.StatusCode != http.StatusAccepted {
			t.Fatalf("node %d: %d, want 202 (its own share)", i+1, resp.StatusCode)
		}
	}
}

func TestRateShare(t *testing.T) {
	l := newRateLimits(30, 30)
	now := time.Now()
	l.allow("c", now)
	l.share(3)
	if l.nodeRate() != 10 || l.nodeBurst() != 10 || l.limiters["c"].Burst() != 10 || l.limiters["c"].Limit() != 10 {
		t.Fatalf("share(3): rate %v burst %d", l.nodeRate(), l.nodeBurst())
	}
	l.share(2)
	if l.nodeRate() != 15 || l.limiters["c"].Limit() != 15 {
		t.Fatalf("share(2): %v", l.nodeRate())
	}
	l = newRateLimits(1, 1)
	if l.share(5); l.nodeBurst() != 1 {
		t.Fatalf("burst below 1: %d", l.nodeBurst())
	}
}
