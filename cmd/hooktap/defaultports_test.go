package main

import (
	"net"
	"os"
	"strings"
	"testing"
)

// defaultAddrs are the addresses hooktap takes when none is given: the web
// inspector's and the relay's (dev's embedded one). A developer's own
// hooktap runs there; a test never binds them.
var defaultAddrs = []string{"127.0.0.1:4040", "127.0.0.1:8789"}

// TestMain holds the default addresses, when they are free, for the whole
// run: a test that starts dev, listen, relay or web without choosing its
// address finds them taken, as on a developer's machine where hooktap runs,
// and fails (see defaultAddrUsed) instead of taking the developer's port.
func TestMain(m *testing.M) {
	var held []net.Listener
	for _, a := range defaultAddrs {
		if ln, err := net.Listen("tcp", a); err == nil { // else someone holds it already
			held = append(held, ln)
		}
	}
	code := m.Run()
	for _, ln := range held {
		ln.Close()
	}
	os.Exit(code)
}

// defaultAddrUsed fails t when a hooktap process said, on stderr, that it
// could not take a default address: the test did not choose one.
func defaultAddrUsed(t *testing.T, args []string, stderr string) {
	t.Helper()
	for _, a := range defaultAddrs {
		if strings.Contains(stderr, a) && strings.Contains(stderr, "in use") {
			t.Errorf("hooktap %s tried the default address %s (a developer's hooktap): give --web 127.0.0.1:0 or --no-web, --addr 127.0.0.1:0\nstderr:\n%s",
				strings.Join(args, " "), a, stderr)
		}
	}
}
