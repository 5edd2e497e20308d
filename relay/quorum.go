package relay

import (
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"
)

// A cluster node that cannot reach a majority of its cluster cannot store:
// a delivery it publishes times out, and yet the stream's leader, if it is
// on this node, has proposed it, and it commits once the majority is back.
// Its sender, told 503, retries: the app would see it twice. So a node
// that knows it cannot store refuses senders at once, before publishing
// anything, and its /healthz says so, for the load balancer.
//
// It knows from its heartbeat (signals.go), a write to the presence bucket
// every heartbeatEvery, each bounded by as long: when they have failed for
// writesLostAfter in a row, the node cannot store; the next that succeeds
// says it can again. One slow write under load does not count, nor does a
// leader election after one node of three dies: the stream has no leader
// for up to about 10 s then (nats-server elects within 4-9 s), and its
// writes fail, though the cluster has its majority.
var writesLostAfter = 12 * time.Second // a variable for tests

// msgNoMajority is the one line a node that cannot store answers with.
const msgNoMajority = "this relay node cannot reach a majority of its cluster, so it cannot store deliveries; retry later (another node may take it)"

// storing tracks whether a cluster node's writes are taken.
type storing struct {
	log *slog.Logger

	mu      sync.Mutex
	failing time.Time     // when the first of the failing writes in a row began; zero: the last one succeeded
	lost    chan struct{} // closed while the node cannot store
	down    bool
}

func newStoring(log *slog.Logger) *storing {
	return &storing{log: log, lost: make(chan struct{})}
}

// wrote notes a write that began at start and ended now with err.
func (st *storing) wrote(start time.Time, err error) {
	st.mu.Lock()
	defer st.mu.Unlock()
	if err == nil {
		st.failing = time.Time{}
		if st.down {
			st.down = false
			st.lost = make(chan struct{})
			// At the level of the loss, so that whoever saw it sees this.
			st.log.Warn("this relay node reaches a majority of its cluster again; it takes deliveries")
		}
		return
	}
	if st.failing.IsZero() {
		st.failing = start
	}
	if !st.down && time.Since(st.failing) >= writesLostAfter {
		st.down = true
		close(st.lost)
		st.log.Warn("this relay node cannot reach a majority of its cluster: senders and /healthz get 503 until it can",
			"failing_for", time.Since(st.failing).Round(time.Second), "err", err)
	}
}

// cannot is closed once the node cannot store (at once if it cannot now).
// On a single relay (nil) it is never closed.
func (st *storing) cannot() <-chan struct{} {
	if st == nil {
		return nil
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.lost
}

// ok reports whether the node can store (always, on a single relay).
func (st *storing) ok() bool {
	select {
	case <-st.cannot():
		return false
	default:
		return true
	}
}

// healthz answers 200 "ok", or 503 with the reason while this cluster node
// cannot store: a load balancer then sends its senders elsewhere.
func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	if !s.writes.ok() {
		w.Header().Set("Retry-After", "5")
		httpError(w, http.StatusServiceUnavailable, "%s", msgNoMajority)
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	fmt.Fprintln(w, "ok")
}
