package main

import (
	"encoding/json"
	"net/http"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestProcessJSONConnectedOnce: listen --json prints a connection line when
// the state changes, not at every heartbeat: a connection that stays up
// through several heartbeats is one "connected" line.
func TestProcessJSONConnectedOnce(t *testing.T) {
	_, relayURL := startRelay(t)
	app := newRecordingApp(t, nil)
	web := freeAddr(t)
	p := startProc(t, listenCmd(relayURL, "c1", app.URL, filepath.Join(t.TempDir(), "a.db"),
		"--json", "--web", web, "--heartbeat", "100ms")...)
	var lines []string
	for l := range p.lines {
		lines = append(lines, l)
		if strings.Contains(l, `"type":"ready"`) {
			break
		}
	}
	// Wait until the relay has answered three heartbeats after the welcome.
	var seen []string
	deadline := time.Now().Add(20 * time.Second)
	for len(seen) < 4 {
		if time.Now().After(deadline) {
			t.Fatalf("heartbeats seen: %v", seen)
		}
		var st struct {
			Conn struct {
				HeartbeatAt string `json:"heartbeat_at"`
			} `json:"conn"`
		}
		resp, err := http.Get("http://" + web + "/api/status")
		if err != nil {
			t.Fatal(err)
		}
		json.NewDecoder(resp.Body).Decode(&st)
		resp.Body.Close()
		if at := st.Conn.HeartbeatAt; at != "" && (len(seen) == 0 || seen[len(seen)-1] != at) {
			seen = append(seen, at)
		}
		time.Sleep(20 * time.Millisecond) // polling, at most until the deadline
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	for l := range p.lines {
		lines = append(lines, l)
	}
	connected := 0
	for _, l := range lines {
		if strings.Contains(l, `"type":"connection"`) && strings.Contains(l, `"state":"connected"`) {
			connected++
		}
	}
	if connected != 1 {
		t.Errorf("%d connected lines over %d heartbeats, want 1:\n%s", connected, len(seen)-1, strings.Join(lines, "\n"))
	}
}
