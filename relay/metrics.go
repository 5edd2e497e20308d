package relay

import (
	"context"
	"net/http"
	"runtime"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// metrics counts what the relay does per channel, for /metrics. It has a
// registry of its own, not the global default: relays that share a
// process (tests) count apart.
type metrics struct {
	reg         *prometheus.Registry
	receivedVec *prometheus.CounterVec
	answeredVec *prometheus.CounterVec
	durationVec *prometheus.HistogramVec

	mu       sync.Mutex
	channels map[string]*channelSeries
}

// channelSeries are one channel's series, looked up once.
type channelSeries struct {
	label    string // the channel, or "_other"
	received prometheus.Counter
	duration prometheus.Observer
}

// latencyBuckets are the upper bounds (seconds) of the delivery latency
// histogram: from the sender's request to the relay's answer.
var latencyBuckets = []float64{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}

// maxMetricChannels bounds the series a sender can create by inventing
// channel names (open mode); beyond it, traffic is counted under "_other".
const maxMetricChannels = 1000

func newMetrics() *metrics {
	m := &metrics{
		reg: prometheus.NewRegistry(),
		receivedVec: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "hooktap_deliveries_received_total",
			Help: "Webhook requests received per channel.",
		}, []string{"channel"}),
		answeredVec: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "hooktap_deliveries_answered_total",
			Help: "Answers given to senders per channel and HTTP status code.",
		}, []string{"channel", "code"}),
		durationVec: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "hooktap_delivery_duration_seconds",
			Help:    "Time from a sender's request to the relay's answer.",
			Buckets: latencyBuckets,
		}, []string{"channel"}),
		channels: map[string]*channelSeries{},
	}
	m.reg.MustRegister(m.receivedVec, m.answeredVec, m.durationVec,
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "go_goroutines",
			Help: "Goroutines that currently exist.",
		}, func() float64 { return float64(runtime.NumGoroutine()) }))
	return m
}

// series returns channel's series, created on first use.
func (m *metrics) series(channel string) *channelSeries {
	m.mu.Lock()
	defer m.mu.Unlock()
	c := m.channels[channel]
	if c != nil {
		return c
	}
	if len(m.channels) >= maxMetricChannels {
		channel = "_other"
		if c = m.channels[channel]; c != nil {
			return c
		}
	}
	// The histogram is shown from the first request on, before its answer.
	c = &channelSeries{label: channel, received: m.receivedVec.WithLabelValues(channel), duration: m.durationVec.WithLabelValues(channel)}
	m.channels[channel] = c
	return c
}

// received counts a request accepted for channel (before any limit).
func (m *metrics) received(channel string) { m.series(channel).received.Inc() }

// answered counts the answer the sender got and how long it took.
func (m *metrics) answered(channel string, status int, took time.Duration) {
	c := m.series(channel)
	m.answeredVec.WithLabelValues(c.label, strconv.Itoa(status)).Inc()
	c.duration.Observe(took.Seconds())
}

// serveMetrics writes every metric in the Prometheus text format (or
// another format the scraper asks for). The gauges are read now.
func (s *Server) serveMetrics(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
	defer cancel()
	depth, err := s.store.Depth(ctx)
	if err != nil {
		httpError(w, http.StatusServiceUnavailable, "read buffer depth: %v", err)
		return
	}
	counters, agents := prometheus.Gatherer(s.metrics.reg), s.Agents()
	if s.stats != nil { // the whole cluster's (clusterstats.go)
		if counters, agents, err = s.clusterMetrics(ctx); err != nil {
			httpError(w, http.StatusServiceUnavailable, "gather the cluster's metrics: %v", err)
			return
		}
	}
	now := prometheus.NewRegistry()
	now.MustRegister(gauges{agents: agents, depth: depth})
	promhttp.HandlerFor(prometheus.Gatherers{counters, now}, promhttp.HandlerOpts{}).ServeHTTP(w, r)
}

// gauges are the per-channel values read at scrape time.
type gauges struct {
	agents map[string]int
	depth  map[string]int64
}

var (
	agentsDesc = prometheus.NewDesc("hooktap_agents_connected", "Agents connected per channel.", []string{"channel"}, nil)
	depthDesc  = prometheus.NewDesc("hooktap_buffer_depth", "Deliveries kept in the relay's buffer per channel.", []string{"channel"}, nil)
)

func (g gauges) Describe(ch chan<- *prometheus.Desc) {
	ch <- agentsDesc
	ch <- depthDesc
}

func (g gauges) Collect(ch chan<- prometheus.Metric) {
	for name, n := range g.agents {
		ch <- prometheus.MustNewConstMetric(agentsDesc, prometheus.GaugeValue, float64(n), name)
	}
	for name, n := range g.depth {
		ch <- prometheus.MustNewConstMetric(depthDesc, prometheus.GaugeValue, float64(n), name)
	}
}
