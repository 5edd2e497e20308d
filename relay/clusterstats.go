package relay

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
)

// A relay node of a cluster answers requests on hooktap.metrics with its
// own counters and the agents connected to it. The node that serves
// /metrics or the channel list asks every node and sums what they answer
// (itself included: it answers its own request too). A census on the
// same subject every few seconds counts the nodes, for --rate.
const (
	statsSubject = "hooktap.metrics"
	// statsWait bounds a gather (it ends sooner once every node the census
	// counted has answered): a node that has not answered by then
	// (dead, partitioned, or stalled) is left out of that answer's sums.
	statsWait     = 2 * time.Second
	censusEvery   = 2 * time.Second
	censusWait    = time.Second
	statsMaxBytes = 4 << 20
)

// nodeStats is one node's answer.
type nodeStats struct {
	Node     string         `json:"node"`
	Agents   map[string]int `json:"agents"`             // connected to this node, by channel
	Counters []byte         `json:"counters,omitempty"` // its own metrics, delimited protobuf
}

// clusterStats is a node's side of hooktap.metrics.
type clusterStats struct {
	srv   *Server
	conn  *nats.Conn
	sub   *nats.Subscription
	nodes atomic.Int64 // as the last census counted them (at least 1)
	stop  chan struct{}
	done  sync.WaitGroup
}

func startClusterStats(s *Server) (*clusterStats, error) {
	c := &clusterStats{srv: s, conn: s.cfg.Cluster.Conn, stop: make(chan struct{})}
	c.nodes.Store(1)
	sub, err := c.conn.Subscribe(statsSubject, c.answer)
	if err != nil {
		return nil, err
	}
	c.sub = sub
	c.done.Add(1)
	go c.censusLoop()
	return c, nil
}

func (c *clusterStats) close() {
	close(c.stop)
	c.done.Wait()
	c.sub.Unsubscribe()
}

// answer sends this node's counters and agents, or only its name when
// the request says "census".
func (c *clusterStats) answer(m *nats.Msg) {
	st := nodeStats{Node: c.srv.cfg.Cluster.Name}
	if string(m.Data) != "census" {
		st.Agents = c.srv.Agents()
	}
	if string(m.Data) == "metrics" {
		var b bytes.Buffer
		if mfs, err := c.srv.metrics.reg.Gather(); err == nil {
			enc := expfmt.NewEncoder(&b, expfmt.NewFormat(expfmt.TypeProtoDelim))
			for _, mf := range mfs {
				enc.Encode(mf)
			}
		}
		st.Counters = b.Bytes()
	}
	if out, err := json.Marshal(st); err == nil {
		m.Respond(out)
	}
}

// gather asks every node and returns the answers that came within
// statsWait, or sooner once as many as the census counted have.
func (c *clusterStats) gather(ctx context.Context, what string) ([]nodeStats, error) {
	inbox := c.conn.NewRespInbox()
	ch := make(chan *nats.Msg, 64)
	sub, err := c.conn.ChanSubscribe(inbox, ch)
	if err != nil {
		return nil, err
	}
	defer sub.Unsubscribe()
	if err := c.conn.PublishRequest(statsSubject, inbox, []byte(what)); err != nil {
		return nil, err
	}
	wait := statsWait
	if what == "census" {
		wait = censusWait // it cannot end sooner: it counts
	}
	ctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	var out []nodeStats
	for {
		select {
		case m := <-ch:
			var st nodeStats
			if json.Unmarshal(m.Data, &st) == nil {
				out = append(out, st)
			}
			if what != "census" && len(out) >= int(c.nodes.Load()) {
				return out, nil
			}
		case <-ctx.Done():
			if len(out) == 0 {
				return nil, errors.New("no relay node answered, this one neither")
			}
			return out, nil
		}
	}
}

// censusLoop counts the live nodes every few seconds and shares --rate
// among them.
func (c *clusterStats) censusLoop() {
	defer c.done.Done()
	t := time.NewTicker(censusEvery)
	defer t.Stop()
	for {
		if sts, err := c.gather(context.Background(), "census"); err == nil {
			n := len(sts)
			if c.nodes.Swap(int64(n)) != int64(n) {
				c.srv.log.Info("relay nodes in the cluster", "nodes", n)
			}
			c.srv.limits.share(n)
		}
		select {
		case <-c.stop:
			return
		case <-t.C:
		}
	}
}

// clusterMetrics sums the nodes' counters and agents. Counters and
// histograms add up exactly; a node missing from one scrape makes its
// share drop out of the sums for that scrape (Prometheus reads it as a
// counter reset), and hooktap_cluster_nodes_answering shows how many
// answered.
func (s *Server) clusterMetrics(ctx context.Context) (prometheus.Gatherer, map[string]int, error) {
	sts, err := s.stats.gather(ctx, "metrics")
	if err != nil {
		return nil, nil, err
	}
	agents := map[string]int{}
	merged := map[string]*dto.MetricFamily{}
	for _, st := range sts {
		for ch, n := range st.Agents {
			agents[ch] += n
		}
		dec := expfmt.NewDecoder(io.LimitReader(bytes.NewReader(st.Counters), statsMaxBytes), expfmt.NewFormat(expfmt.TypeProtoDelim))
		for {
			mf := &dto.MetricFamily{}
			if dec.Decode(mf) != nil {
				break
			}
			mergeFamily(merged, mf)
		}
	}
	answering := prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "hooktap_cluster_nodes_answering",
		Help: "Relay nodes whose counters this scrape sums.",
	})
	answering.Set(float64(len(sts)))
	reg := prometheus.NewRegistry()
	reg.MustRegister(answering)
	fams := prometheus.GathererFunc(func() ([]*dto.MetricFamily, error) {
		out := make([]*dto.MetricFamily, 0, len(merged))
		for _, mf := range merged {
			out = append(out, mf)
		}
		sort.Slice(out, func(i, j int) bool { return out[i].GetName() < out[j].GetName() })
		return out, nil
	})
	return prometheus.Gatherers{fams, reg}, agents, nil
}

// mergeFamily adds mf's metrics into into, series by series (same labels).
func mergeFamily(into map[string]*dto.MetricFamily, mf *dto.MetricFamily) {
	have := into[mf.GetName()]
	if have == nil {
		into[mf.GetName()] = mf
		return
	}
	if have.GetType() != mf.GetType() {
		return // nodes of different versions: keep the first's
	}
	for _, m := range mf.Metric {
		if dst := findSeries(have, m); dst != nil {
			addMetric(dst, m)
		} else {
			have.Metric = append(have.Metric, m)
		}
	}
}

func findSeries(mf *dto.MetricFamily, m *dto.Metric) *dto.Metric {
	key := labelKey(m)
	for _, h := range mf.Metric {
		if labelKey(h) == key {
			return h
		}
	}
	return nil
}

func labelKey(m *dto.Metric) string {
	var b strings.Builder
	for _, l := range m.Label {
		b.WriteString(l.GetName() + "=" + l.GetValue() + "\x00")
	}
	return b.String()
}

// addMetric adds src to dst: counters, gauges (goroutines: the cluster's
// total) and histograms with the same buckets.
func addMetric(dst, src *dto.Metric) {
	switch {
	case dst.Counter != nil && src.Counter != nil:
		dst.Counter.Value = ptr(dst.Counter.GetValue() + src.Counter.GetValue())
	case dst.Gauge != nil && src.Gauge != nil:
		dst.Gauge.Value = ptr(dst.Gauge.GetValue() + src.Gauge.GetValue())
	case dst.Histogram != nil && src.Histogram != nil:
		h, o := dst.Histogram, src.Histogram
		h.SampleCount = ptr(h.GetSampleCount() + o.GetSampleCount())
		h.SampleSum = ptr(h.GetSampleSum() + o.GetSampleSum())
		for i, b := range h.Bucket {
			if i < len(o.Bucket) && o.Bucket[i].GetUpperBound() == b.GetUpperBound() {
				b.CumulativeCount = ptr(b.GetCumulativeCount() + o.Bucket[i].GetCumulativeCount())
			}
		}
	}
}

// allAgents counts the agents of every channel on every node (this one's
// alone on a single relay, or when no node answers).
func (s *Server) allAgents(ctx context.Context) map[string]int {
	if s.stats == nil {
		return s.Agents()
	}
	sts, err := s.stats.gather(ctx, "agents")
	if err != nil {
		return s.Agents()
	}
	out := map[string]int{}
	for _, st := range sts {
		for ch, n := range st.Agents {
			out[ch] += n
		}
	}
	return out
}

func ptr[T any](v T) *T { return &v }
