package forward

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
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
// Each request is written and its answer read by the calling goroutine,
// on a kept-alive connection of the Forwarder's own (net/http's Request.Write
// and ReadResponse do the HTTP/1.1): no transport goroutines to hand the
// request and the answer through, which is most of what a forward costs
// besides the system calls.
type Forwarder struct {
	target  *url.URL
	timeout time.Duration
	dialer  net.Dialer
	tls     *tls.Config // for https targets

	mu   sync.Mutex
	idle []*appConn // most recently used last
}

// appConn is one connection to the app.
type appConn struct {
	net.Conn
	br       *bufio.Reader
	bw       *bufio.Writer
	lastUsed time.Time
}

// Bounds of the idle connections a Forwarder keeps.
const (
	maxIdleConns = 128
	idleTimeout  = 30 * time.Second // apps close idle ones too; Node's default is 5 s
)

// New checks target (an absolute http or https URL) and prepares to send
// to it with the given timeout (DefaultTimeout when 0).
func New(target string, timeout time.Duration) (*Forwarder, error) {
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
		dialer:  net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second},
		tls:     &tls.Config{ServerName: u.Hostname(), NextProtos: []string{"http/1.1"}},
	}, nil
}

// CloseIdle closes the connections kept for the next request.
func (f *Forwarder) CloseIdle() {
	f.mu.Lock()
	idle := f.idle
	f.idle = nil
	f.mu.Unlock()
	for _, c := range idle {
		c.Close()
	}
}

// conn returns an idle connection (reused true) or a new one.
func (f *Forwarder) conn(ctx context.Context) (c *appConn, reused bool, err error) {
	f.mu.Lock()
	for len(f.idle) > 0 {
		c = f.idle[len(f.idle)-1]
		f.idle = f.idle[:len(f.idle)-1]
		if time.Since(c.lastUsed) < idleTimeout && c.br.Buffered() == 0 && stillOpen(c.Conn) {
			f.mu.Unlock()
			return c, true, nil
		}
		c.Close()
	}
	f.mu.Unlock()
	addr := f.target.Host
	if f.target.Port() == "" {
		addr = net.JoinHostPort(f.target.Hostname(), map[string]string{"http": "80", "https": "443"}[f.target.Scheme])
	}
	var nc net.Conn
	if f.target.Scheme == "https" {
		nc, err = (&tls.Dialer{NetDialer: &f.dialer, Config: f.tls}).DialContext(ctx, "tcp", addr)
	} else {
		nc, err = f.dialer.DialContext(ctx, "tcp", addr)
	}
	if err != nil {
		return nil, false, err
	}
	return &appConn{Conn: nc, br: bufio.NewReaderSize(nc, 4<<10), bw: bufio.NewWriterSize(nc, 4<<10)}, false, nil
}

// release keeps c for the next request.
func (f *Forwarder) release(c *appConn) {
	c.lastUsed = time.Now()
	f.mu.Lock()
	if len(f.idle) < maxIdleConns {
		f.idle = append(f.idle, c)
		c = nil
	}
	f.mu.Unlock()
	if c != nil {
		c.Close()
	}
}

// roundTrip sends req and reads the whole answer, at most maxResponseBody
// of its body, before deadline. A kept connection that turns out to be
// closed when the request is written is replaced once by a new one; an
// answer that does not come is never asked for twice, as the app may have
// acted on the request.
func (f *Forwarder) roundTrip(ctx context.Context, req *http.Request, body []byte, deadline time.Time) (*http.Response, []byte, error) {
	for try := 0; ; try++ {
		c, reused, err := f.conn(ctx)
		if err != nil {
			return nil, nil, err
		}
		resp, b, keep, err := exchange(ctx, c, req, body, deadline)
		if keep {
			f.release(c)
		} else {
			c.Close()
		}
		var we writeError
		if err != nil && reused && try == 0 && ctx.Err() == nil && errors.As(err, &we) {
			continue
		}
		return resp, b, err
	}
}

// writeError is a failure to send a request: the app has not seen it.
type writeError struct{ err error }

func (e writeError) Error() string { return e.err.Error() }
func (e writeError) Unwrap() error { return e.err }

// exchange writes req on c and reads its answer. keep reports whether c
// can carry another request.
func exchange(ctx context.Context, c *appConn, req *http.Request, body []byte, deadline time.Time) (resp *http.Response, b []byte, keep bool, err error) {
	c.SetDeadline(deadline)
	stop := context.AfterFunc(ctx, func() { c.SetDeadline(time.Now()) })
	defer stop()
	req.Body = io.NopCloser(bytes.NewReader(body))
	if len(body) == 0 {
		req.Body = http.NoBody
	}
	if err := req.Write(c.bw); err != nil {
		return nil, nil, false, writeError{err}
	}
	if err := c.bw.Flush(); err != nil {
		return nil, nil, false, writeError{err}
	}
	for {
		resp, err = http.ReadResponse(c.br, req)
		if err != nil {
			return nil, nil, false, err
		}
		// 1xx answers (100 Continue, 103 Early Hints) precede the real one.
		if resp.StatusCode >= 200 || resp.StatusCode == http.StatusSwitchingProtocols {
			break
		}
	}
	b, err = io.ReadAll(io.LimitReader(resp.Body, maxResponseBody))
	if err != nil {
		err = fmt.Errorf("reading the answer: %w", err)
	}
	// Anything left unread (an answer over the limit) leaves the
	// connection unusable.
	full := err == nil && int64(len(b)) < maxResponseBody
	resp.Body.Close()
	return resp, b, full && !resp.Close && resp.StatusCode != http.StatusSwitchingProtocols && stop(), err
}

// Target is the base URL deliveries go to.
func (f *Forwarder) Target() string { return f.target.String() }

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
	req, err := http.NewRequestWithContext(ctx, r.Method, a.Target, nil)
	if err != nil {
		a.Error = "bad request: " + err.Error()
		return a
	}
	req.Header = forwardHeader(r)
	req.ContentLength = int64(len(r.Body))
	resp, body, err := f.roundTrip(ctx, req, r.Body, a.StartedAt.Add(f.timeout))
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
// hop-by-hop headers, plus X-Forwarded-*.
func forwardHeader(r Request) http.Header {
	h := r.Header.Clone()
	if h == nil {
		h = http.Header{}
	}
	wire.StripHopHeaders(h)
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

// describeForwardError says in a few words why the app gave no answer.
func describeForwardError(err error) (msg string, timeout bool) {
	var ne net.Error
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused (is the app running?)", false
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
