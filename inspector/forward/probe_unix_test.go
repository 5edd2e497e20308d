//go:build linux

package forward

import (
	"bufio"
	"context"
	"net"
	"net/http"
	"os"
	"syscall"
	"testing"
	"time"
)

// TestProbeOneConnectionAtATime: an app that serves one connection at a
// time (Python's http.server) keeps our pooled connection and leaves new
// dials waiting in a full backlog. The probe then times out, but the app
// listens: the check must not turn the UIs red while deliveries get
// answers. With no connection kept, a timeout is still an error.
func TestProbeOneConnectionAtATime(t *testing.T) {
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := syscall.Bind(fd, &syscall.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Listen(fd, 0); err != nil { // the smallest backlog
		t.Fatal(err)
	}
	f := os.NewFile(uintptr(fd), "listener")
	ln, err := net.FileListener(f)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	// Serve the first connection only, keep-alive, as a single-threaded
	// server does while it is busy with it.
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		br := bufio.NewReader(c)
		for {
			req, err := http.ReadRequest(br)
			if err != nil {
				return
			}
			req.Body.Close()
			c.Write([]byte("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"))
		}
	}()

	fw, err := New("http://"+ln.Addr().String()+"/hook", 0)
	if err != nil {
		t.Fatal(err)
	}
	if a := fw.Forward(t.Context(), Request{Method: "POST", Body: []byte("{}")}); a.Status != 200 {
		t.Fatalf("forward: %d %s", a.Status, a.Error)
	}
	// Fill the backlog until a dial waits.
	for i := 0; ; i++ {
		c, err := net.DialTimeout("tcp", ln.Addr().String(), 200*time.Millisecond)
		if err != nil {
			break
		}
		defer c.Close()
		if i > 100 {
			t.Fatal("the backlog never filled")
		}
	}
	if err := fw.Probe(context.Background()); err != nil {
		t.Errorf("probe with our connection kept by the app: %v, want it listening", err)
	}
	fw.CloseIdle()
	if err := fw.Probe(context.Background()); err == nil {
		t.Error("probe with no connection kept and a full backlog: no error")
	}
}
