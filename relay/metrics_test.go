package relay

import (
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// /metrics keeps the names, types, help texts and labels the README
// documents.
func TestMetricsPage(t *testing.T) {
	_, ts := newRelay(t, Config{})
	dialAgent(t, ts).hello("live", "agt_metrics")
	if resp, b := post(t, ts.URL+"/h/ops/x", []byte(`{"action":"a.b"}`)); resp.StatusCode != http.StatusAccepted {
		t.Fatalf("post: %d %s", resp.StatusCode, b)
	}
	want := `
# HELP hooktap_deliveries_received_total Webhook requests received per channel.
# TYPE hooktap_deliveries_received_total counter
hooktap_deliveries_received_total{channel="ops"} 1
# HELP hooktap_deliveries_answered_total Answers given to senders per channel and HTTP status code.
# TYPE hooktap_deliveries_answered_total counter
hooktap_deliveries_answered_total{channel="ops",code="202"} 1
# HELP hooktap_agents_connected Agents connected per channel.
# TYPE hooktap_agents_connected gauge
hooktap_agents_connected{channel="live"} 1
# HELP hooktap_buffer_depth Deliveries kept in the relay's buffer per channel.
# TYPE hooktap_buffer_depth gauge
hooktap_buffer_depth{channel="ops"} 1
`
	if err := testutil.ScrapeAndCompare(ts.URL+"/metrics", strings.NewReader(want),
		"hooktap_deliveries_received_total", "hooktap_deliveries_answered_total", "hooktap_agents_connected", "hooktap_buffer_depth"); err != nil {
		t.Error(err)
	}

	resp, err := http.Get(ts.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain; version=0.0.4") {
		t.Errorf("content type %q", ct)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if len(fams) != 6 {
		t.Errorf("%d families, want the 6 documented ones: %v", len(fams), slices.Sorted(maps.Keys(fams)))
	}
	g := fams["go_goroutines"]
	if g.GetHelp() != "Goroutines that currently exist." || g.GetType().String() != "GAUGE" || len(g.GetMetric()) != 1 ||
		len(g.GetMetric()[0].GetLabel()) != 0 || g.GetMetric()[0].GetGauge().GetValue() < 1 {
		t.Errorf("go_goroutines: %v", g)
	}
	h := fams["hooktap_delivery_duration_seconds"]
	if h.GetHelp() != "Time from a sender's request to the relay's answer." || h.GetType().String() != "HISTOGRAM" || len(h.GetMetric()) != 1 {
		t.Fatalf("histogram: %v", h)
	}
	m := h.GetMetric()[0]
	var bounds []float64
	for _, b := range m.GetHistogram().GetBucket() {
		bounds = append(bounds, b.GetUpperBound())
	}
	if l := m.GetLabel(); len(l) != 1 || l[0].GetName() != "channel" || l[0].GetValue() != "ops" ||
		m.GetHistogram().GetSampleCount() != 1 || !slices.Equal(bounds[:len(latencyBuckets)], latencyBuckets) {
		t.Errorf("histogram series: %v", m)
	}
}

// Channel names a sender invents (open mode) make at most
// maxMetricChannels series; the rest is counted under "_other".
func TestMetricsBoundChannels(t *testing.T) {
	m := newMetrics()
	for i := range maxMetricChannels {
		m.received(fmt.Sprint("c", i))
	}
	m.received("invented")
	m.answered("invented", http.StatusAccepted, time.Millisecond)
	m.received("c7")
	for name, n := range map[string]int{
		"received": testutil.CollectAndCount(m.receivedVec),
		"duration": testutil.CollectAndCount(m.durationVec),
	} {
		if n != maxMetricChannels+1 {
			t.Errorf("%s: %d series, want %d", name, n, maxMetricChannels+1)
		}
	}
	if v := testutil.ToFloat64(m.receivedVec.WithLabelValues("_other")); v != 1 {
		t.Errorf(`received{_other} = %v`, v)
	}
	if v := testutil.ToFloat64(m.answeredVec.WithLabelValues("_other", "202")); v != 1 {
		t.Errorf(`answered{_other,202} = %v`, v)
	}
	if v := testutil.ToFloat64(m.receivedVec.WithLabelValues("c7")); v != 2 {
		t.Errorf("received{c7} = %v: a known channel keeps its series", v)
	}
}
