package relay

import (
	"net/http"
	"strings"
	"time"

	"github.com/hooktap/hooktap/relay/page"
)

// gate stands in front of ingress. In team mode, unknown channels, and
// channels whose URL secret is missing or wrong, get the same 404 and are
// neither counted nor shown; the channel's rate limit answers 429 with
// Retry-After; every answer is counted and timed, and what ingress
// answered is shown on the channel page.
func (s *Server) gate(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("channel")
	if !ValidChannel(name) {
		s.ingress(w, r) // ingress explains; no metric series for garbage names
		return
	}
	if s.teamMode() && !s.ingressAllowed(r, name) {
		httpError(w, http.StatusNotFound, "unknown channel %q on this relay", name)
		return
	}
	start := time.Now()
	s.metrics.received(name)
	if wait, ok := s.limits.allow(name, start); !ok {
		w.Header().Set("Retry-After", retryAfter(wait))
		httpError(w, http.StatusTooManyRequests, "channel %s takes at most %g deliveries per second; retry later", name, s.cfg.Rate)
		s.metrics.answered(name, http.StatusTooManyRequests, time.Since(start))
		return
	}
	rec := &statusRecorder{ResponseWriter: w}
	action := s.ingress(rec, r)
	took := time.Since(start)
	status := rec.status
	if status == 0 {
		status = 499 // the sender went away before the answer
	}
	s.metrics.answered(name, status, took)
	s.showOnPage(name, page.Item{
		ID:         rec.Header().Get(HeaderDelivery),
		Time:       start.UTC(),
		Method:     r.Method,
		Path:       "/" + strings.TrimPrefix(pathSuffix(r, name), "/"),
		Action:     action,
		Status:     status,
		DurationMS: float64(took.Microseconds()) / 1000,
	})
}

// statusRecorder remembers the status ingress answered with.
type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (rec *statusRecorder) WriteHeader(code int) {
	if rec.status == 0 {
		rec.status = code
	}
	rec.ResponseWriter.WriteHeader(code)
}

func (rec *statusRecorder) Write(b []byte) (int, error) {
	if rec.status == 0 {
		rec.status = http.StatusOK
	}
	return rec.ResponseWriter.Write(b)
}

func (rec *statusRecorder) Unwrap() http.ResponseWriter { return rec.ResponseWriter }
