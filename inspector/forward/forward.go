package forward

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/hooktap/hooktap/inspector/store"
	"github.com/hooktap/hooktap/relay/wire"
)

// DefaultTimeout is how long the app gets to answer, as providers
// give 10 s.
const DefaultTimeout = 10 * time.Second

// maxResponseBody bounds what is kept of an app's answer.
const maxResponseBody = 5 << 20

// Request is what gets sent to the app: a stored delivery, or an edited copy.
type Request struct {
	Method     string
	Path       string // suffix appended to the target's path, escaped
	Query      string
	Header     http.Header
	Body       []byte
	RemoteAddr string // for X-Forwarded-For
	Host       string // for X-Forwarded-Host
	Proto      string // for X-Forwarded-Proto
	// Due, when set, is when the answer is of no more use (its sender
	// stops waiting): the app gets until then, if that is sooner than the
	// forwarder's timeout.
	Due time.Time
	// Origin is set when the request starts here (hooktap trigger): hooktap
	// is its client, not a hop, and adds no Via entry.
	Origin bool
}

// RequestOf is the request that delivers d as it arrived.
func RequestOf(d *store.Delivery) Request {
	return Request{
		Method: d.Method, Path: d.Path, Query: d.Query, Header: d.Header, Body: d.Body,
		RemoteAddr: d.RemoteAddr, Host: d.Host, Proto: d.Proto,
	}
}

// Forwarder sends requests to one target (the developer's app). It never
// follows redirects and never talks to another host: whatever a delivery
// says, only the path suffix and query are taken from it.
//
// It sends on a pool of its own (pool.go) rather than through net/http's
// Transport: measured against a tuned Transport in make bench, the agent
// spends less CPU per delivery and forwards more per second with it, and
// it notices a connection the app closed before writing on it.
type Forwarder struct {
	target  *url.URL
	timeout time.Duration
	tls     *tls.Config // for https targets

	pool *pool
	tr   *http.Transport // instead of pool, for make bench's comparison
}

// New checks target (an absolute http or https URL) and prepares to send
// to it with the given timeout (DefaultTimeout when 0).
func New(target string, timeout time.Duration) (*Forwarder, error) {
	f, err := newForwarder(target, timeout)
	if err != nil {
		return nil, err
	}
	f.pool = &pool{target: f.target, tls: f.tls, dialer: net.Dialer{Timeout: dialTimeout, KeepAlive: 30 * time.Second}}
	return f, nil
}

// NewTransport is New sending through a tuned net/http Transport instead,
// for make bench to compare with the pool (HOOKTAP_FORWARDER=transport).
func NewTransport(target string, timeout time.Duration) (*Forwarder, error) {
	f, err := newForwarder(target, timeout)
	if err != nil {
		return nil, err
	}
	f.tr = newTransport(f.tls)
	return f, nil
}

func newForwarder(target string, timeout time.Duration) (*Forwarder, error) {
	u, err := store.ParseTarget(target)
	if err != nil {
		return nil, err
	}
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	return &Forwarder{
		target:  u,
		timeout: timeout,
		tls:     &tls.Config{ServerName: u.Hostname(), NextProtos: []string{"http/1.1"}},
	}, nil
}

// Bounds of the connections a Forwarder keeps.
const (
	dialTimeout  = 5 * time.Second
	maxIdleConns = 128              // twice the agent's default --concurrency
	idleTimeout  = 30 * time.Second // apps close idle ones too; Node's default is 5 s
)

// CloseIdle closes the connections kept for the next request.
func (f *Forwarder) CloseIdle() {
	if f.tr != nil {
		f.tr.CloseIdleConnections()
		return
	}
	f.pool.closeIdle()
}

// roundTrip sends req and reads the whole answer, at most maxResponseBody
// of its body, before deadline.
func (f *Forwarder) roundTrip(ctx context.Context, req *http.Request, body []byte, deadline time.Time) (*http.Response, []byte, error) {
	if f.tr != nil {
		return transportRoundTrip(f.tr, req, body)
	}
	return f.pool.roundTrip(ctx, req, body, deadline)
}

// Target is the base URL deliveries go to.
func (f *Forwarder) Target() string { return f.target.String() }

// Addr is the target's host:port, the port filled in from the scheme.
func (f *Forwarder) Addr() string {
	if f.target.Port() != "" {
		return f.target.Host
	}
	port := "80"
	if f.target.Scheme == "https" {
		port = "443"
	}
	return net.JoinHostPort(f.target.Hostname(), port)
}

// Probe dials the target and hangs up: whether something listens there,
// at the cost of one TCP handshake (no request reaches the app). The error
// is in a few words: "connection refused", ...
func (f *Forwarder) Probe(ctx context.Context) error {
	d := net.Dialer{Timeout: probeTimeout}
	c, err := d.DialContext(ctx, "tcp", f.Addr())
	if err != nil {
		// An app that serves one connection at a time (Python's
		// http.server) leaves the dial waiting in its backlog while our
		// kept connection is open to it: it listens, it is busy with us.
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() && ctx.Err() == nil && f.pool != nil && f.pool.holdsIdle() {
			return nil
		}
		return errors.New(describeDialError(err))
	}
	return c.Close()
}

// probeTimeout bounds a probe: a local app accepts at once, and a firewall
// that drops packets should not hold the check for the dial's full timeout.
const probeTimeout = 2 * time.Second

// describeDialError says in a few words why a dial failed.
func describeDialError(err error) string {
	var dnsErr *net.DNSError
	var ne net.Error
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused"
	case errors.As(err, &dnsErr):
		return "unknown host " + dnsErr.Name
	case errors.As(err, &ne) && ne.Timeout():
		return "timed out"
	}
	return err.Error()
}

// AppDown reports whether a forward's attempt failed because nothing
// listens on the target (rather than the app failing to answer).
func AppDown(a *store.Attempt) bool { return a.Status == 0 && a.Error == refusedError }

// URL is where a request with the given path suffix and query goes. A
// suffix with dot segments or control characters is refused.
func (f *Forwarder) URL(suffix, query string) (*url.URL, error) {
	return store.TargetURL(f.target, suffix, query)
}

// Forward sends r to the target and reports what happened as an attempt
// (DeliveryID and Kind are left for the caller). Failures to reach the app
// are recorded in the attempt, never returned.
func (f *Forwarder) Forward(ctx context.Context, r Request) *store.Attempt {
	a := &store.Attempt{StartedAt: time.Now().UTC(), Target: f.target.String()}
	defer func() { a.Duration = time.Since(a.StartedAt) }()
	u, err := f.URL(r.Path, r.Query)
	if err != nil {
		a.Error = "refused: " + err.Error()
		return a
	}
	a.Target = u.String()
	deadline := a.StartedAt.Add(f.timeout)
	if !r.Due.IsZero() && r.Due.Before(deadline) {
		deadline = r.Due
	}
	rctx, cancel := f.forwardContext(ctx, deadline)
	defer cancel()
	req, err := http.NewRequestWithContext(rctx, r.Method, a.Target, nil)
	if err != nil {
		a.Error = "bad request: " + err.Error()
		return a
	}
	req.Header = forwardHeader(r)
	req.ContentLength = int64(len(r.Body))
	resp, body, err := f.roundTrip(ctx, req, r.Body, deadline)
	if resp == nil {
		if ctx.Err() != nil {
			err = ctx.Err()
		}
		a.Error, a.Timeout = describeForwardError(err)
		return a
	}
	a.Status = resp.StatusCode
	a.Header = resp.Header
	a.Body = body
	if err != nil {
		a.Error = err.Error()
	}
	return a
}

// forwardHeader is the header sent to the app: the request's own minus
// hop-by-hop headers, plus X-Forwarded-* and a Via entry.
func forwardHeader(r Request) http.Header {
	h := r.Header.Clone()
	if h == nil {
		h = http.Header{}
	}
	wire.StripHopHeaders(h)
	if !r.Origin {
		wire.AddVia(h) // a relay refuses a request that has come round too often
	}
	h.Del("Content-Length")
	h.Del("Host")
	if r.RemoteAddr != "" {
		if prior := h.Values("X-Forwarded-For"); len(prior) > 0 {
			h.Set("X-Forwarded-For", strings.Join(prior, ", ")+", "+r.RemoteAddr)
		} else {
			h.Set("X-Forwarded-For", r.RemoteAddr)
		}
	}
	if r.Host != "" {
		h.Set("X-Forwarded-Host", r.Host)
	}
	if r.Proto != "" {
		h.Set("X-Forwarded-Proto", r.Proto)
	}
	if _, ok := h["User-Agent"]; !ok {
		h["User-Agent"] = []string{""} // keep Go from adding its own
	}
	return h
}

// refusedError is an attempt's error when nothing listens on the target.
const refusedError = "connection refused (is the app running?)"

// SentHeader is the header the app receives when r is forwarded, for
// recording what a resend sent: forwardHeader's, with the Content-Length
// net/http writes for r's body (the stored one may be the original's,
// before an edit) and without the empty User-Agent that only keeps Go from
// adding its own. The Host line is the target's.
func SentHeader(r Request) http.Header {
	h := forwardHeader(r)
	if v := h["User-Agent"]; len(v) == 1 && v[0] == "" {
		delete(h, "User-Agent")
	}
	switch {
	case len(r.Body) > 0:
		h.Set("Content-Length", strconv.Itoa(len(r.Body)))
	case r.Method == http.MethodPost || r.Method == http.MethodPut || r.Method == http.MethodPatch:
		h.Set("Content-Length", "0") // net/http says so for an empty body of these
	}
	return h
}

// describeForwardError says in a few words why the app gave no answer.
func describeForwardError(err error) (msg string, timeout bool) {
	var ne net.Error
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return refusedError, false
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return "timed out waiting for the app", true
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "the app closed the connection without answering", false
	case errors.Is(err, context.Canceled):
		return "canceled", false
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	return err.Error(), false
}
