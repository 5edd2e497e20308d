package main

import (
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// rawHeaderValue is not UTF-8: Latin-1 "café" and a lone 0xff. HTTP allows
// such bytes (obs-text) in header values, and Go's client sends them as
// they are.
const rawHeaderValue = "caf\xe9 \xff"

// TestHeaderBytesExact sends a header value that is not UTF-8 through the
// relay's buffer (no agent connected) and live, and replays both from the
// agent's store: the app must get the same bytes every time.
func TestHeaderBytesExact(t *testing.T) {
	app := newRecordingApp(t, nil)
	relayProc, relayURL := startRelay(t)
	ingress := relayURL + "/h/bytes/hook"
	post := func(evt string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest("POST", ingress, strings.NewReader(`{"id":"`+evt+`"}`))
		req.Header.Set("Content-Type", "application/json")
		req.Header["X-Name"] = []string{rawHeaderValue}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode, resp.Header.Get("X-Hooktap-Delivery")
	}
	check := func(what string) {
		t.Helper()
		select {
		case r := <-app.got:
			if got := r.Header["X-Name"]; len(got) != 1 || got[0] != rawHeaderValue {
				t.Errorf("%s: app got X-Name %q, want %q", what, got, rawHeaderValue)
			}
		case <-time.After(20 * time.Second):
			t.Fatalf("%s: the app got nothing in 20s", what)
		}
	}

	// (a) No agent yet: the delivery waits in the relay's buffer.
	status, buffered := post("evt_buffered")
	if status != http.StatusAccepted || buffered == "" {
		t.Fatalf("with no agent: %d, id %q; want 202 and an id", status, buffered)
	}
	db := filepath.Join(t.TempDir(), "agent.db")
	listen := startProc(t, "listen", "--no-web", "--relay", relayURL, "--channel", "bytes", "--forward-to", app.URL,
		"--db", db, "--no-tui", "--json")
	listen.line(t, `"type":"ready"`)
	check("from the buffer")
	listen.line(t, buffered) // its delivery line: stored

	// (b) Live.
	status, live := post("evt_live")
	if status != http.StatusOK || live == "" {
		t.Fatalf("live: %d, id %q; want the app's 200 and an id", status, live)
	}
	check("live")
	listen.line(t, live)
	listen.stop(t)
	relayProc.stop(t)

	// (c) Replays from the agent's store.
	for _, id := range []string{buffered, live} {
		out, errOut, code := hooktapOut(t, nil, "replay", id, "--db", db)
		if code != 0 {
			t.Fatalf("replay %s: exit %d\n%s%s", id, code, out, errOut)
		}
		check("replay of " + id)
	}
}
