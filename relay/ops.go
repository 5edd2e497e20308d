package relay

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/hooktap/hooktap/relay/page"
)

// ops is what a relay adds for teams and operators: the channel registry
// and admin token (team mode), per-channel rate limits, metrics, the
// channel page's feed and TLS.
type ops struct {
	registry    *channelRegistry // nil in open mode
	adminHash   [sha256.Size]byte
	metricsHash [sha256.Size]byte // of the metrics token; zero: none
	limits      *rateLimits       // nil: no limit
	metrics     *metrics
	feed        *feedHub
	pageHandler http.Handler
	tls         *tls.Config // nil: plain HTTP
}

// teamMode reports whether channels must be created and agents need tokens.
func (s *Server) teamMode() bool { return s.ops.registry != nil }

// initOps sets up s.ops from s.cfg.
func (s *Server) initOps(ctx context.Context) error {
	o := &ops{metrics: newMetrics(), feed: newFeedHub(s)}
	o.pageHandler = page.Handler(o.feed)
	if s.cfg.AdminToken != "" {
		if len(s.cfg.AdminToken) < 16 {
			return errors.New("the admin token must be at least 16 characters")
		}
		reg, err := openChannelRegistry(ctx, s.buf)
		if err != nil {
			return err
		}
		o.registry = reg
		o.adminHash = sha256.Sum256([]byte(s.cfg.AdminToken))
	}
	if s.cfg.MetricsToken != "" {
		if o.registry == nil {
			return errors.New("a metrics token needs team mode (an admin token): in open mode /metrics is open")
		}
		if len(s.cfg.MetricsToken) < 16 {
			return errors.New("the metrics token must be at least 16 characters")
		}
		o.metricsHash = sha256.Sum256([]byte(s.cfg.MetricsToken))
	}
	if s.cfg.Rate < 0 {
		return fmt.Errorf("rate must not be negative")
	}
	o.limits = newRateLimits(s.cfg.Rate, s.cfg.RateBurst)
	if (s.cfg.TLSCert == "") != (s.cfg.TLSKey == "") {
		return errors.New("TLS needs both a certificate and a key")
	}
	if s.cfg.TLSCert != "" {
		cert, err := tls.LoadX509KeyPair(s.cfg.TLSCert, s.cfg.TLSKey)
		if err != nil {
			return fmt.Errorf("load TLS certificate: %w", err)
		}
		o.tls = &tls.Config{
			Certificates: []tls.Certificate{cert},
			MinVersion:   tls.VersionTLS12,
			NextProtos:   []string{"http/1.1"}, // WebSocket upgrades need HTTP/1.1
		}
	}
	s.ops = o
	return nil
}

// routeOps adds the admin API, /metrics and the channel pages to mux.
func (s *Server) routeOps(mux *http.ServeMux) {
	mux.HandleFunc("GET /metrics", s.metricsReader(s.serveMetrics))
	mux.HandleFunc("/api/channels", s.admin(s.apiChannels))
	mux.HandleFunc("/api/channels/{name}", s.admin(s.apiChannel))
	mux.HandleFunc("POST /api/channels/{name}/rotate-token", s.admin(s.apiRotate))
	mux.HandleFunc("POST /api/channels/{name}/rotate-url", s.admin(s.apiRotateURL))
	mux.Handle("GET /c/", s.channelPage(s.ops.pageHandler))
}

// listener wraps ln in TLS when the relay has a certificate.
func (s *Server) listener(ln net.Listener) net.Listener {
	if s.ops.tls == nil {
		return ln
	}
	return tls.NewListener(ln, s.ops.tls)
}

// recorder remembers what ingress answered, for metrics and the feed.
type recorder struct {
	http.ResponseWriter
	status int
	action string
}

func (rec *recorder) WriteHeader(code int) {
	if rec.status == 0 {
		rec.status = code
	}
	rec.ResponseWriter.WriteHeader(code)
}

func (rec *recorder) Write(b []byte) (int, error) {
	if rec.status == 0 {
		rec.status = http.StatusOK
	}
	return rec.ResponseWriter.Write(b)
}

func (rec *recorder) Unwrap() http.ResponseWriter { return rec.ResponseWriter }

// noteAction tells the instrumenting writer which event a delivery carries,
// for the channel page.
func noteAction(w http.ResponseWriter, action string) {
	if rec, ok := w.(*recorder); ok {
		rec.action = action
	}
}

// instrument wraps ingress: in team mode unknown channels, and channels
// whose URL secret is missing or wrong, get the same 404 and are neither
// counted nor shown; the channel's rate limit answers 429 with
// Retry-After; every answer is counted and timed, and shown on the channel
// page.
func (s *Server) instrument(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		name := r.PathValue("channel")
		if !ValidChannel(name) {
			next(w, r) // ingress explains; no metric series for garbage names
			return
		}
		if s.teamMode() && !s.ingressAllowed(r, name) {
			httpError(w, http.StatusNotFound, "unknown channel %q on this relay", name)
			return
		}
		start := time.Now()
		s.ops.metrics.received(name)
		if wait, ok := s.ops.limits.allow(name, start); !ok {
			w.Header().Set("Retry-After", retryAfter(wait))
			httpError(w, http.StatusTooManyRequests, "channel %s takes at most %g deliveries per second; retry later", name, s.cfg.Rate)
			s.ops.metrics.answered(name, http.StatusTooManyRequests, time.Since(start))
			return
		}
		rec := &recorder{ResponseWriter: w}
		next(rec, r)
		took := time.Since(start)
		status := rec.status
		if status == 0 {
			status = 499 // the sender went away before the answer
		}
		s.ops.metrics.answered(name, status, took)
		s.ops.feed.add(name, page.Item{
			ID:         rec.Header().Get(HeaderDelivery),
			Time:       start.UTC(),
			Method:     r.Method,
			Path:       "/" + strings.TrimPrefix(pathSuffix(r, name), "/"),
			Action:     rec.action,
			Status:     status,
			DurationMS: float64(took.Microseconds()) / 1000,
		})
	}
}
