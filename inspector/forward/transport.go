package forward

import (
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"
)

// newTransport is a net/http Transport for one app: HTTP/1.1 only, no
// proxy (the Forwarder talks to its target and nobody else, whatever
// HTTP_PROXY says), answers kept as the app sent them (no gzip asked for
// or undone), and as many idle connections as the agent forwards at once.
func newTransport(tlsConf *tls.Config) *http.Transport {
	var protos http.Protocols
	protos.SetHTTP1(true)
	d := &net.Dialer{Timeout: dialTimeout, KeepAlive: 30 * time.Second}
	return &http.Transport{
		Proxy:               nil,
		DialContext:         d.DialContext,
		TLSClientConfig:     tlsConf,
		TLSHandshakeTimeout: dialTimeout,
		Protocols:           &protos,
		DisableCompression:  true,
		MaxIdleConns:        maxIdleConns,
		MaxIdleConnsPerHost: maxIdleConns,
		IdleConnTimeout:     idleTimeout,
	}
}

// transportRoundTrip sends req through tr and reads the whole answer. The
// request's context carries the deadline. Transport.RoundTrip, unlike a
// Client, never follows redirects; it sends a POST again only when
// nothing of it was written (GetBody), never after the app may have seen it.
func transportRoundTrip(tr *http.Transport, req *http.Request, body []byte) (*http.Response, []byte, error) {
	req.Body = http.NoBody
	if len(body) > 0 {
		req.Body = io.NopCloser(bytes.NewReader(body))
		req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
	}
	resp, err := tr.RoundTrip(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close() // before EOF, this closes the connection
	if resp.StatusCode == http.StatusSwitchingProtocols {
		return resp, nil, nil // the body is the connection itself, now another protocol's
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBody))
	if err != nil {
		err = fmt.Errorf("reading the answer: %w", err)
	}
	return resp, b, err
}

// forwardContext is ctx ending at deadline, for the Transport; the pool
// sets the deadline on its connection.
func (f *Forwarder) forwardContext(ctx context.Context, deadline time.Time) (context.Context, context.CancelFunc) {
	if f.tr == nil {
		return ctx, func() {}
	}
	return context.WithDeadline(ctx, deadline)
}
