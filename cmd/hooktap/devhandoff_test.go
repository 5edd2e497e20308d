package main

import (
	"encoding/json"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
)

// TestDevHandsOverInMemory: in hooktap dev the agent is attached to the
// embedded relay in memory (the relay logs it as in-process, where an
// agent over WebSocket has a loopback address), and every delivery whose
// sender has its answer is in the agent's store already, with the app's
// answer.
func TestDevHandsOverInMemory(t *testing.T) {
	app := newRecordingApp(t, nil)
	db := filepath.Join(t.TempDir(), "dev.db")
	dev := startProc(t, "dev", "--no-tui", "--no-web", "--json", "--verbose", "--addr", "127.0.0.1:0", "--data", t.TempDir(),
		"--provider-data", t.TempDir(), "--db", db, "--forward-to", app.URL+"/webhooks")
	var ready struct{ URL string }
	if err := json.Unmarshal([]byte(dev.line(t, `"type":"ready"`)), &ready); err != nil || ready.URL == "" {
		t.Fatalf("ready line: %v", err)
	}
	for i := range 5 {
		resp, err := http.Post(ready.URL+"/orders", "application/json", strings.NewReader(`{"object_type":"payable","action":"payable.created","n":`+string(rune('0'+i))+`}`))
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		id := resp.Header.Get("X-Hooktap-Delivery")
		if resp.StatusCode != http.StatusOK || id == "" {
			t.Fatalf("delivery %d: %d, id %q", i, resp.StatusCode, id)
		}
		// Asked right after the answer, the store has it and the app's
		// answer: it was recorded before the sender was answered.
		out, errOut, code := hooktapOut(t, nil, "events", "show", id, "--json", "--db", db)
		var shown struct {
			ID     string `json:"id"`
			Status int    `json:"status"`
		}
		json.Unmarshal([]byte(out), &shown)
		if code != 0 || shown.ID != id || shown.Status != http.StatusOK {
			t.Fatalf("events show %s right after the answer: %d %s %s", id, code, out, errOut)
		}
	}
	dev.stop(t)
	logs := dev.stderr.String()
	if !strings.Contains(logs, `msg="agent connected"`) || !strings.Contains(logs, "remote=in-process") {
		t.Errorf("the relay did not log its agent as attached in process:\n%s", logs)
	}
}
