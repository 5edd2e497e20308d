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
	"sync"
	"time"
)

// pool is a hand-rolled HTTP/1.1 client for one target. Each request is
// written and its answer read by the calling goroutine, on a kept-alive
// connection of the pool's own (net/http's Request.Write and ReadResponse
// do the HTTP/1.1): no transport goroutines to hand the request and the
// answer through.
type pool struct {
	target *url.URL
	tls    *tls.Config
	dialer net.Dialer

	mu   sync.Mutex
	idle []*appConn // most recently used last
}

// appConn is one connection to the app.
type appConn struct {
	net.Conn
	br       *bufio.Reader
	bw       *bufio.Writer
	lastUsed time.Time
	// headerLeft bounds what the connection reads while an answer's
	// status line and headers are read (net/http's ReadResponse has no
	// limit of its own); 0 when not reading headers.
	headerLeft int
}

// maxAnswerHeader bounds an answer's status line and headers, as net/http's
// server bounds a request's (DefaultMaxHeaderBytes), with the 4 KiB the
// reader may take of the body beyond them.
const maxAnswerHeader = 1<<20 + 4<<10

var errHeaderTooLarge = errors.New("the app's answer has more than 1 MiB of headers")

// headerLimit reads c's connection, within headerLeft while it is set.
type headerLimit struct{ c *appConn }

func (h headerLimit) Read(p []byte) (int, error) {
	if h.c.headerLeft == 0 {
		return h.c.Conn.Read(p)
	}
	if h.c.headerLeft < 0 {
		return 0, errHeaderTooLarge
	}
	n, err := h.c.Conn.Read(p[:min(len(p), h.c.headerLeft)])
	if h.c.headerLeft -= n; h.c.headerLeft == 0 {
		h.c.headerLeft = -1 // spent: the next read fails
	}
	return n, err
}

// closeIdle closes the connections kept for the next request.
func (p *pool) closeIdle() {
	p.mu.Lock()
	idle := p.idle
	p.idle = nil
	p.mu.Unlock()
	for _, c := range idle {
		c.Close()
	}
}

// holdsIdle reports whether a connection to the app is kept open for the
// next request.
func (p *pool) holdsIdle() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.idle) > 0
}

// conn returns an idle connection (reused true) or a new one.
func (p *pool) conn(ctx context.Context) (c *appConn, reused bool, err error) {
	p.mu.Lock()
	for len(p.idle) > 0 {
		c = p.idle[len(p.idle)-1]
		p.idle = p.idle[:len(p.idle)-1]
		if time.Since(c.lastUsed) < idleTimeout && c.br.Buffered() == 0 && stillOpen(c.Conn) {
			p.mu.Unlock()
			return c, true, nil
		}
		c.Close()
	}
	p.mu.Unlock()
	addr := p.target.Host
	if p.target.Port() == "" {
		addr = net.JoinHostPort(p.target.Hostname(), map[string]string{"http": "80", "https": "443"}[p.target.Scheme])
	}
	var nc net.Conn
	if p.target.Scheme == "https" {
		nc, err = (&tls.Dialer{NetDialer: &p.dialer, Config: p.tls}).DialContext(ctx, "tcp", addr)
	} else {
		nc, err = p.dialer.DialContext(ctx, "tcp", addr)
	}
	if err != nil {
		return nil, false, err
	}
	c = &appConn{Conn: nc, bw: bufio.NewWriterSize(nc, 4<<10)}
	c.br = bufio.NewReaderSize(headerLimit{c}, 4<<10)
	return c, false, nil
}

// release keeps c for the next request.
func (p *pool) release(c *appConn) {
	c.lastUsed = time.Now()
	p.mu.Lock()
	if len(p.idle) < maxIdleConns {
		p.idle = append(p.idle, c)
		c = nil
	}
	p.mu.Unlock()
	if c != nil {
		c.Close()
	}
}

// roundTrip sends req and reads the whole answer before deadline. A kept
// connection that turns out to be closed when the request is written is
// replaced once by a new one; an answer that does not come is never asked
// for twice, as the app may have acted on the request.
func (p *pool) roundTrip(ctx context.Context, req *http.Request, body []byte, deadline time.Time) (*http.Response, []byte, error) {
	for try := 0; ; try++ {
		c, reused, err := p.conn(ctx)
		if err != nil {
			return nil, nil, err
		}
		resp, b, keep, err := exchange(ctx, c, req, body, deadline)
		if keep {
			p.release(c)
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
		c.headerLeft = maxAnswerHeader
		resp, err = http.ReadResponse(c.br, req)
		c.headerLeft = 0
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
