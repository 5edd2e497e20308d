package main

import (
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestDevRefusesToForwardToItself: `hooktap dev --forward-to` its own
// address (a careless paste of the webhook URL it prints) is one line and
// exit 2, not deliveries going round.
func TestDevRefusesToForwardToItself(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	port := addr[strings.LastIndexByte(addr, ':')+1:]
	for _, args := range [][]string{
		{"--forward-to", "http://" + addr + "/h/dev"},
		{"--forward-to", "http://localhost:" + port + "/"},
		{"--forward-to", "http://127.0.0.1:1/", "--route", "payable.*=http://localhost:" + port + "/h/dev"},
		{"--forward-to", "http://user:s3cret-pw@127.0.0.1:" + port + "/h/dev"},
	} {
		args = append([]string{"dev", "--addr", addr, "--no-tui", "--no-web", "--db", filepath.Join(t.TempDir(), "d.db"), "--data", t.TempDir()}, args...)
		_, stderr, code := hooktapOut(t, nil, args...)
		if lines := strings.Split(strings.TrimSpace(stderr), "\n"); code != 2 || len(lines) != 1 || !strings.Contains(stderr, "hooktap dev's own address") || strings.Contains(stderr, "s3cret-pw") {
			t.Fatalf("%v: exit %d, stderr %q", args, code, stderr)
		}
	}
}

// TestListenLoopStops: an agent whose --forward-to is its relay's own
// ingress makes a loop the relay ends (Via): the sender gets an answer, and
// no more than MaxHops+1 deliveries are made of one POST.
func TestListenLoopStops(t *testing.T) {
	_, relayURL := startRelay(t, "--response-timeout", "3s")
	db := filepath.Join(t.TempDir(), "loop.db")
	agent := startProc(t, listenArgs(relayURL, "loop", relayURL+"/h/loop", db)...)
	agent.line(t, `"type":"ready"`)
	client := &http.Client{Timeout: 30 * time.Second}
	code, body := sendEvent(t, client, relayURL+"/h/loop", "evt_1", "payable.created")
	if code != http.StatusLoopDetected && code != http.StatusAccepted {
		t.Fatalf("sender got %d %s; want the loop's 508 (or 202 if the relay stopped waiting)", code, body)
	}
	// The loop has ended once the relay refused the third hop: the agent's
	// record of that refusal is the last thing that happens.
	agent.line(t, `"status":508`)
	stdout, _, _ := hooktapOut(t, nil, "events", "list", "--db", db, "--json")
	if n := strings.Count(stdout, `"channel":"loop"`); n < 1 || n > 2 {
		t.Fatalf("one POST made %d deliveries, want at most 2:\n%s", n, stdout)
	}
}
