package relay

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// metrics counts what the relay does per channel, for /metrics in the
// Prometheus text exposition format (written by hand: no dependency).
type metrics struct {
	mu       sync.Mutex
	channels map[string]*channelMetrics
}

type channelMetrics struct {
	received int64
	answered map[int]int64 // by the status the sender got
	buckets  []int64       // cumulative counts per latencyBuckets bound
	count    int64
	sum      float64 // seconds
}

// latencyBuckets are the upper bounds (seconds) of the delivery latency
// histogram: from the sender's request to the relay's answer.
var latencyBuckets = []float64{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}

// maxMetricChannels bounds the series a sender can create by inventing
// channel names (open mode); beyond it, traffic is counted under "_other".
const maxMetricChannels = 1000

func newMetrics() *metrics { return &metrics{channels: map[string]*channelMetrics{}} }

// get returns channel's counters. Callers hold mu.
func (m *metrics) get(channel string) *channelMetrics {
	c := m.channels[channel]
	if c == nil {
		if len(m.channels) >= maxMetricChannels {
			channel = "_other"
			if c = m.channels[channel]; c != nil {
				return c
			}
		}
		c = &channelMetrics{answered: map[int]int64{}, buckets: make([]int64, len(latencyBuckets))}
		m.channels[channel] = c
	}
	return c
}

// received counts a request accepted for channel (before any limit).
func (m *metrics) received(channel string) {
	m.mu.Lock()
	m.get(channel).received++
	m.mu.Unlock()
}

// answered counts the answer the sender got and how long it took.
func (m *metrics) answered(channel string, status int, took time.Duration) {
	sec := took.Seconds()
	m.mu.Lock()
	c := m.get(channel)
	c.answered[status]++
	c.count++
	c.sum += sec
	for i, le := range latencyBuckets {
		if sec <= le {
			c.buckets[i]++
		}
	}
	m.mu.Unlock()
}

// serveMetrics writes every metric in the Prometheus text format, version
// 0.0.4.
func (s *Server) serveMetrics(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
	defer cancel()
	depth, err := s.buf.Depth(ctx)
	if err != nil {
		httpError(w, http.StatusServiceUnavailable, "read buffer depth: %v", err)
		return
	}
	w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	s.ops.metrics.write(w, s.Agents(), depth)
}

func (m *metrics) write(w io.Writer, agents map[string]int, depth map[string]int64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	names := sortedKeys(m.channels)

	fmt.Fprint(w, "# HELP hooktap_deliveries_received_total Webhook requests received per channel.\n# TYPE hooktap_deliveries_received_total counter\n")
	for _, ch := range names {
		fmt.Fprintf(w, "hooktap_deliveries_received_total{channel=%s} %d\n", quote(ch), m.channels[ch].received)
	}
	fmt.Fprint(w, "# HELP hooktap_deliveries_answered_total Answers given to senders per channel and HTTP status code.\n# TYPE hooktap_deliveries_answered_total counter\n")
	for _, ch := range names {
		c := m.channels[ch]
		codes := sortedKeys(c.answered)
		for _, code := range codes {
			fmt.Fprintf(w, "hooktap_deliveries_answered_total{channel=%s,code=\"%d\"} %d\n", quote(ch), code, c.answered[code])
		}
	}
	fmt.Fprint(w, "# HELP hooktap_delivery_duration_seconds Time from a sender's request to the relay's answer.\n# TYPE hooktap_delivery_duration_seconds histogram\n")
	for _, ch := range names {
		c := m.channels[ch]
		for i, le := range latencyBuckets {
			fmt.Fprintf(w, "hooktap_delivery_duration_seconds_bucket{channel=%s,le=\"%s\"} %d\n", quote(ch), strconv.FormatFloat(le, 'g', -1, 64), c.buckets[i])
		}
		fmt.Fprintf(w, "hooktap_delivery_duration_seconds_bucket{channel=%s,le=\"+Inf\"} %d\n", quote(ch), c.count)
		fmt.Fprintf(w, "hooktap_delivery_duration_seconds_sum{channel=%s} %s\n", quote(ch), strconv.FormatFloat(c.sum, 'g', -1, 64))
		fmt.Fprintf(w, "hooktap_delivery_duration_seconds_count{channel=%s} %d\n", quote(ch), c.count)
	}
	fmt.Fprint(w, "# HELP hooktap_agents_connected Agents connected per channel.\n# TYPE hooktap_agents_connected gauge\n")
	for _, ch := range sortedKeys(agents) {
		fmt.Fprintf(w, "hooktap_agents_connected{channel=%s} %d\n", quote(ch), agents[ch])
	}
	fmt.Fprint(w, "# HELP hooktap_buffer_depth Deliveries kept in the relay's buffer per channel.\n# TYPE hooktap_buffer_depth gauge\n")
	for _, ch := range sortedKeys(depth) {
		fmt.Fprintf(w, "hooktap_buffer_depth{channel=%s} %d\n", quote(ch), depth[ch])
	}
	fmt.Fprintf(w, "# HELP go_goroutines Goroutines that currently exist.\n# TYPE go_goroutines gauge\ngo_goroutines %d\n", runtime.NumGoroutine())
}

func sortedKeys[K interface{ ~string | ~int }, V any](m map[K]V) []K {
	keys := make([]K, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// quote is a label value in the exposition format: backslash, double quote
// and newline escaped.
func quote(v string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`).Replace(v) + `"`
}
