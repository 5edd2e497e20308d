package relay

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// bodyUsers is how many requests hold or wait for room for their bodies.
func (b *budgets) bodyUsers() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	n := 0
	for _, cb := range b.per {
		n += cb.users
	}
	return n
}

// TestSlowUploadsDoNotHoldOthersUp: 30 connections each start a chunked
// POST, send one byte of body and then nothing (well within the server's
// 60 s read timeout). Without a Content-Length each takes room for a whole
// --max-body (5 MiB): 25 of them take the relay's 128 MiB, the other 5
// queue, though the relay holds 30 bytes. A sender on another channel then
// waits behind them for most of --response-timeout before its 14 bytes
// are read: in one run 3.0 s of a 3 s timeout (9.8 s of 10 s with the
// default binary; a provider that gives up at 10 s retries, and the retry
// is a duplicate of a delivery that was accepted). The attacker needs 30
// idle requests, in open mode on any channel names; over h2c, 30 streams
// on one to four connections did the same (9.0 s).
func TestSlowUploadsDoNotHoldOthersUp(t *testing.T) {
	srv, err := New(t.Context(), Config{DataDir: t.TempDir(), ResponseTimeout: 3 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewUnstartedServer(nil)
	ts.Config = srv.NewHTTPServer()
	ts.Start()
	t.Cleanup(func() {
		ts.CloseClientConnections()
		ts.Close()
		srv.Close()
	})

	const slow = 30
	for i := range slow {
		c, err := net.Dial("tcp", ts.Listener.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		fmt.Fprintf(c, "POST /h/slow%d HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n1\r\n{\r\n", i%4)
	}
	deadline := time.Now().Add(10 * time.Second)
	for srv.bodies.bodyUsers() < slow {
		if time.Now().After(deadline) {
			t.Fatalf("only %d of %d slow uploads reached the relay", srv.bodies.bodyUsers(), slow)
		}
		time.Sleep(10 * time.Millisecond) // no signal to wait on: a poll with a deadline
	}

	start := time.Now()
	resp, err := http.Post(ts.URL+"/h/victim", "application/json", strings.NewReader(`{"action":"x"}`))
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	took := time.Since(start)
	if took > time.Second {
		t.Fatalf("a 14-byte POST on another channel took %v (answered %d) behind %d slow uploads holding %d bytes in all",
			took.Round(10*time.Millisecond), resp.StatusCode, slow, slow)
	}
}
