package forward

import (
	"bufio"
	"context"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hooktap/hooktap/inspector/store"
)

// countConns counts the connections a test server accepts.
func countConns(ts *httptest.Server) *atomic.Int64 {
	var n atomic.Int64
	ts.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			n.Add(1)
		}
	}
	return &n
}

// Connections are kept, and no more are opened than requests are sent at
// once. (net/http's Transport opens more: a request waiting for a
// connection dials, then takes another one freed first; here 16 runs of
// 100 ended with 10 to 15 connections for 8 senders.)
func TestForwardKeepsConnectionsAlive(t *testing.T) {
	ts := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		fmt.Fprintf(w, "%s %s %s", r.Method, r.URL.RequestURI(), b)
	}))
	conns := countConns(ts)
	ts.Start()
	defer ts.Close()
	f, err := New(ts.URL+"/hooks", 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.CloseIdle()
	for i := range 50 {
		a := f.Forward(t.Context(), Request{Method: "POST", Path: "/p", Query: "i=" + fmt.Sprint(i), Body: []byte("body")})
		if want := fmt.Sprintf("POST /hooks/p?i=%d body", i); a.Status != 200 || string(a.Body) != want {
			t.Fatalf("attempt %d: %d %q %s, want %q", i, a.Status, a.Body, a.Error, want)
		}
	}
	if n := conns.Load(); n != 1 {
		t.Fatalf("%d connections for 50 requests one after another, want 1", n)
	}

	// Concurrent requests each get a connection, kept for the next ones.
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 20 {
				if a := f.Forward(t.Context(), Request{Method: "GET", Path: "/c"}); a.Status != 200 {
					t.Errorf("concurrent: %d %s", a.Status, a.Error)
				}
			}
		}()
	}
	wg.Wait()
	if n := conns.Load(); n > 9 {
		t.Fatalf("%d connections for 8 concurrent senders", n)
	}
}

// An app that closes idle connections (Node does after 5 s) costs the next
// delivery nothing, over http and https: the closed connection is noticed
// before the request is written, and a new one used. This is one reason the
// Forwarder keeps its own pool: net/http's Transport notices on a goroutine
// of its own, so a request sent right after the close fails (in most runs
// of this test), and rightly is not sent again once written.
func TestForwardAfterTheAppClosedIdleConnection(t *testing.T) {
	for _, scheme := range []string{"http", "https"} {
		t.Run(scheme, func(t *testing.T) {
			var hits atomic.Int64
			ts := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				hits.Add(1)
				io.WriteString(w, "ok")
			}))
			conns := countConns(ts)
			startApp(ts, scheme)
			defer ts.Close()
			f, _ := New(ts.URL, 0)
			trust(f, ts)
			defer f.CloseIdle()
			if a := f.Forward(t.Context(), Request{Method: "POST", Body: []byte("1")}); a.Status != 200 {
				t.Fatalf("first: %d %s", a.Status, a.Error)
			}
			ts.CloseClientConnections() // the app drops its idle connections
			for i := range 3 {
				if a := f.Forward(t.Context(), Request{Method: "POST", Body: []byte("2")}); a.Status != 200 || a.Error != "" {
					t.Fatalf("after the app closed the connection, try %d: %d %q", i, a.Status, a.Error)
				}
			}
			if hits.Load() != 4 || conns.Load() != 2 {
				t.Fatalf("%d requests on %d connections, want 4 on 2", hits.Load(), conns.Load())
			}
		})
	}
}

func startApp(ts *httptest.Server, scheme string) {
	if scheme == "https" {
		ts.StartTLS()
	} else {
		ts.Start()
	}
}

// trust makes f trust the certificate of ts, if it has one.
func trust(f *Forwarder, ts *httptest.Server) {
	if ts.Certificate() != nil {
		pool := x509.NewCertPool()
		pool.AddCert(ts.Certificate())
		f.tls.RootCAs = pool
	}
}

// rawApp answers every request on a connection with the given bytes,
// then, if close is set, closes the connection.
func rawApp(t *testing.T, answer string, close bool) (string, *atomic.Int64) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	var conns atomic.Int64
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			conns.Add(1)
			go func() {
				defer c.Close()
				br := bufio.NewReader(c)
				for {
					req, err := http.ReadRequest(br)
					if err != nil {
						return
					}
					io.Copy(io.Discard, req.Body)
					if _, err := io.WriteString(c, answer); err != nil || close {
						return
					}
				}
			}()
		}
	}()
	return "http://" + ln.Addr().String(), &conns
}

func TestForwardInformationalAnswersAreSkipped(t *testing.T) {
	bothForwarders(t, testForwardInformationalAnswersAreSkipped)
}

func testForwardInformationalAnswersAreSkipped(t *testing.T, newF newFunc) {
	url, _ := rawApp(t, "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a.css>\r\n\r\n"+
		"HTTP/1.1 201 Created\r\nContent-Length: 2\r\nX-App: yes\r\n\r\nok", false)
	f, _ := newF(url, 0)
	defer f.CloseIdle()
	for range 2 {
		a := f.Forward(t.Context(), Request{Method: "POST", Header: http.Header{"Expect": {"100-continue"}}, Body: []byte("x")})
		if a.Status != 201 || string(a.Body) != "ok" || a.Header.Get("X-App") != "yes" {
			t.Fatalf("got %d %q %v %s", a.Status, a.Body, a.Header, a.Error)
		}
	}
}

func TestForwardConnectionCloseAndOversizedAnswers(t *testing.T) {
	bothForwarders(t, testForwardConnectionCloseAndOversizedAnswers)
}

func testForwardConnectionCloseAndOversizedAnswers(t *testing.T, newF newFunc) {
	// Connection: close and an answer without a length (read to EOF).
	url, conns := rawApp(t, "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nuntil the end", true)
	f, _ := newF(url, 0)
	defer f.CloseIdle()
	for range 3 {
		if a := f.Forward(t.Context(), Request{Method: "POST"}); a.Status != 200 || string(a.Body) != "until the end" {
			t.Fatalf("got %d %q %s", a.Status, a.Body, a.Error)
		}
	}
	if conns.Load() != 3 {
		t.Fatalf("%d connections, want one per request after Connection: close", conns.Load())
	}

	// An answer over the limit is cut, and its connection not reused.
	big := strings.Repeat("x", maxResponseBody+10)
	url, conns = rawApp(t, fmt.Sprintf("HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s", len(big), big), false)
	f, _ = newF(url, 0)
	defer f.CloseIdle()
	for range 2 {
		if a := f.Forward(t.Context(), Request{Method: "POST"}); a.Status != 200 || len(a.Body) != maxResponseBody {
			t.Fatalf("got %d, %d bytes, %s", a.Status, len(a.Body), a.Error)
		}
	}
	if conns.Load() != 2 {
		t.Fatalf("%d connections, want a new one after a cut answer", conns.Load())
	}
}

func TestForwardCanceledAndTimedOut(t *testing.T) { bothForwarders(t, testForwardCanceledAndTimedOut) }

func testForwardCanceledAndTimedOut(t *testing.T, newF newFunc) {
	release := make(chan struct{})
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer ts.Close()
	defer close(release)

	f, _ := newF(ts.URL, 50*time.Millisecond)
	if a := f.Forward(t.Context(), Request{Method: "POST"}); !a.Timeout || a.Status != 0 || !strings.Contains(a.Error, "timed out") {
		t.Fatalf("slow app: %+v", a)
	}

	f, _ = newF(ts.URL, time.Minute)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan *store.Attempt, 1)
	go func() { done <- f.Forward(ctx, Request{Method: "POST"}) }()
	cancel()
	select {
	case a := <-done:
		if a.Status != 0 || a.Error != "canceled" {
			t.Fatalf("canceled: %+v", a)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a canceled forward kept waiting for the app")
	}
}

// An https app: verified like any client would, and connections kept.
func TestForwardHTTPS(t *testing.T) { bothForwarders(t, testForwardHTTPS) }

func testForwardHTTPS(t *testing.T, newF newFunc) {
	ts := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, r.URL.Path)
	}))
	conns := countConns(ts)
	ts.StartTLS()
	defer ts.Close()

	f, _ := newF(ts.URL+"/tls", 0)
	if a := f.Forward(t.Context(), Request{Method: "POST"}); a.Status != 0 || !strings.Contains(a.Error, "certificate") {
		t.Fatalf("an untrusted certificate was accepted: %d %q", a.Status, a.Error)
	}
	trust(f, ts)
	defer f.CloseIdle()
	for range 3 {
		if a := f.Forward(t.Context(), Request{Method: "POST", Path: "/x"}); a.Status != 200 || string(a.Body) != "/tls/x" {
			t.Fatalf("got %d %q %s", a.Status, a.Body, a.Error)
		}
	}
	if n := conns.Load(); n != 2 {
		t.Fatalf("%d connections, want the refused one and one for 3 requests", n)
	}
}

type newFunc func(target string, timeout time.Duration) (*Forwarder, error)

// bothForwarders runs test against the Forwarder's own pool and against
// net/http's Transport, which make bench compares with it.
func bothForwarders(t *testing.T, test func(*testing.T, newFunc)) {
	t.Run("pool", func(t *testing.T) { test(t, New) })
	t.Run("transport", func(t *testing.T) { test(t, NewTransport) })
}

// An answer with more than 1 MiB of headers is an error, not a read of
// unbounded size (ReadResponse has no limit of its own).
func TestAnswerHeadersAreBounded(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		bufio.NewReader(c).ReadString('\n')
		fmt.Fprintf(c, "HTTP/1.1 200 OK\r\nX-Big: %s\r\nContent-Length: 0\r\n\r\n", strings.Repeat("x", 2<<20))
	}()
	f, err := New("http://"+ln.Addr().String(), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	a := f.Forward(t.Context(), Request{Method: "POST"})
	if a.Status != 0 || !strings.Contains(a.Error, "1 MiB of headers") {
		t.Errorf("status %d, error %q", a.Status, a.Error)
	}
}
