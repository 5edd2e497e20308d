//go:build unix

package forward

import (
	"crypto/tls"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// pair is a connection and its other end, accepted from ln.
func pair(t *testing.T, ln net.Listener, dial func(addr string) (net.Conn, error)) (client, server net.Conn) {
	t.Helper()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			close(accepted)
			return
		}
		if tc, ok := c.(*tls.Conn); ok {
			tc.Handshake()
		}
		accepted <- c
	}()
	client, err := dial(ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	server, ok := <-accepted
	if !ok {
		t.Fatal("accept failed")
	}
	t.Cleanup(func() { client.Close(); server.Close() })
	return client, server
}

// closedSoon reports whether stillOpen(c) turns false within a second:
// the other end's FIN or bytes reach c's socket a moment after they are sent.
func closedSoon(c net.Conn) bool {
	for deadline := time.Now().Add(time.Second); time.Now().Before(deadline); {
		if !stillOpen(c) {
			return true
		}
	}
	return false
}

func TestStillOpen(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	dial := func(addr string) (net.Conn, error) { return net.Dial("tcp", addr) }

	c, _ := pair(t, ln, dial)
	for range 3 {
		if !stillOpen(c) {
			t.Fatal("an idle open connection was taken for closed")
		}
	}

	c, s := pair(t, ln, dial)
	s.Close()
	if !closedSoon(c) {
		t.Fatal("a connection the app closed was taken for open")
	}

	c, s = pair(t, ln, dial)
	s.Write([]byte("HTTP/1.1 408 Request Timeout\r\n\r\n"))
	if !closedSoon(c) {
		t.Fatal("a connection the app wrote to unasked was taken for open")
	}
	var b [4]byte
	if n, err := c.Read(b[:]); n != 4 || string(b[:]) != "HTTP" {
		t.Fatalf("the peek consumed what it saw: read %q, %v", b[:n], err)
	}
}

// On TLS, whatever the app sends on an idle connection (a close_notify
// alert before it closes) marks it closed.
func TestStillOpenTLS(t *testing.T) {
	ts := httptest.NewUnstartedServer(http.NotFoundHandler())
	ts.StartTLS() // for its certificate
	defer ts.Close()
	ln, err := tls.Listen("tcp", "127.0.0.1:0", ts.TLS)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	cfg := ts.Client().Transport.(*http.Transport).TLSClientConfig
	dial := func(addr string) (net.Conn, error) { return tls.Dial("tcp", addr, cfg) }

	// One exchange first, as the pool's connections have had: the client's
	// read takes in what TLS 1.3 servers send after the handshake (tickets).
	c, s := pair(t, ln, dial)
	var b [4]byte
	c.Write([]byte("ping"))
	s.Read(b[:])
	s.Write([]byte("pong"))
	if _, err := c.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	if !stillOpen(c) {
		t.Fatal("an idle open TLS connection was taken for closed")
	}
	c, s = pair(t, ln, dial)
	s.(*tls.Conn).CloseWrite() // close_notify, the TCP connection still open
	if !closedSoon(c) {
		t.Fatal("a TLS connection the app sent close_notify on was taken for open")
	}
}
