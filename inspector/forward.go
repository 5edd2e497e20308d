package inspector

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"syscall"
	"time"

	"github.com/hooktap/hooktap/relay/wire"
)

// DefaultForwardTimeout is how long the app gets to answer, as providers
// give 10 s.
const DefaultForwardTimeout = 10 * time.Second

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
func RequestOf(d *Delivery) Request {
	return Request{
		Method: d.Method, Path: d.Path, Query: d.Query, Header: d.Header, Body: d.Body,
		RemoteAddr: d.RemoteAddr, Host: d.Host, Proto: d.Proto,
	}
}

// Forwarder sends requests to one target (the developer's app). It never
// follows redirects and never talks to another host: whatever a delivery
// says, only the path suffix and query are taken from it.
type Forwarder struct {
	target *url.URL
	client *http.Client
}

// NewForwarder checks target (an absolute http or https URL) and prepares
// a client with the given timeout (DefaultForwardTimeout when 0).
func NewForwarder(target string, timeout time.Duration) (*Forwarder, error) {
	u, err := url.Parse(target)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("forward target %q must be an http:// or https:// URL", target)
	}
	if timeout <= 0 {
		timeout = DefaultForwardTimeout
	}
	tr := &http.Transport{
		Proxy:               nil, // the app is local: never through a proxy
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:        128,
		MaxIdleConnsPerHost: 128,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true, // pass Accept-Encoding and bodies through untouched
		ForceAttemptHTTP2:   false,
	}
	return &Forwarder{
		target: u,
		client: &http.Client{
			Transport: tr,
			Timeout:   timeout,
			CheckRedirect: func(*http.Request, []*http.Request) error {
				return http.ErrUseLastResponse
			},
		},
	}, nil
}

// Target is the base URL deliveries go to.
func (f *Forwarder) Target() string { return f.target.String() }

// URL is where a request with the given path suffix and query goes. A
// suffix with dot segments or control characters is refused.
func (f *Forwarder) URL(suffix, query string) (*url.URL, error) {
	u := *f.target
	if suffix != "" {
		if !strings.HasPrefix(suffix, "/") {
			return nil, fmt.Errorf("path suffix %q must start with /", suffix)
		}
		dec, err := url.PathUnescape(suffix)
		if err != nil {
			return nil, fmt.Errorf("path suffix %q: %w", suffix, err)
		}
		if strings.ContainsFunc(dec, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
			return nil, fmt.Errorf("path suffix %q has control characters", suffix)
		}
		for _, seg := range strings.Split(dec, "/") {
			if seg == ".." || seg == "." {
				return nil, fmt.Errorf("path suffix %q has dot segments", suffix)
			}
		}
		base := strings.TrimSuffix(u.EscapedPath(), "/")
		u.Path = strings.TrimSuffix(u.Path, "/") + dec
		u.RawPath = base + suffix
		if u.EscapedPath() != u.RawPath {
			u.RawPath = "" // let url re-escape consistently
		}
	}
	switch {
	case query == "":
	case u.RawQuery == "":
		u.RawQuery = query
	default:
		u.RawQuery += "&" + query
	}
	if strings.ContainsAny(u.RawQuery, "\r\n") {
		return nil, errors.New("query has line breaks")
	}
	return &u, nil
}

// Forward sends r to the target and reports what happened as an attempt
// (DeliveryID and Kind are left for the caller). Failures to reach the app
// are recorded in the attempt, never returned.
func (f *Forwarder) Forward(ctx context.Context, r Request) *Attempt {
	a := &Attempt{StartedAt: time.Now().UTC(), Target: f.target.String()}
	defer func() { a.Duration = time.Since(a.StartedAt) }()
	u, err := f.URL(r.Path, r.Query)
	if err != nil {
		a.Error = "refused: " + err.Error()
		return a
	}
	a.Target = u.String()
	req, err := http.NewRequestWithContext(ctx, r.Method, u.String(), bytes.NewReader(r.Body))
	if err != nil {
		a.Error = "bad request: " + err.Error()
		return a
	}
	req.Header = forwardHeader(r)
	req.ContentLength = int64(len(r.Body))
	if len(r.Body) == 0 {
		req.Body = http.NoBody
	}
	resp, err := f.client.Do(req)
	if err != nil {
		a.Error, a.Timeout = describeForwardError(err)
		return a
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBody))
	a.Status = resp.StatusCode
	a.Header = resp.Header
	a.Body = body
	if err != nil {
		a.Error = "reading the answer: " + err.Error()
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
