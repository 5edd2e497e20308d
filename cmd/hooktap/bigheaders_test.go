package main

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestHugeAnswerHeadersDoNotWedgeTheAgent: the app answers one delivery
// with 9,000 headers of 1 KB (a debug dump, say): 9 MiB. The agent drops
// an answer's body when the ack would not fit in a frame, but not its
// headers (and reads them with no limit); the relay refuses the 9 MiB frame
// (close 1009), the agent reconnects, answers the resent delivery from its
// store with the same headers, and so on, until the buffer's retention
// ends it. The agent's cursor never passes that delivery: every reconnect
// resends all that came after it. In a manual run: 66 reconnects in 25 s,
// "websocket: close 1009 (message too big)" each time, no error logged
// (writing the ack counts as progress). Later deliveries still reach the
// app (answered from the store when resent), so nothing is lost, but the
// loop never ends.
func TestHugeAnswerHeadersDoNotWedgeTheAgent(t *testing.T) {
	app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("X-Event") == "evt_big" {
			v := strings.Repeat("a", 1000)
			for i := range 9000 {
				w.Header().Set(fmt.Sprintf("X-Debug-%d", i), v)
			}
		}
		w.Write([]byte("ok"))
	}))
	t.Cleanup(app.Close)
	data := t.TempDir()
	_, relayURL := startRelay(t, "--data", data)
	listen := startProc(t, "listen", "--no-web", "--relay", relayURL, "--channel", "hdr", "--forward-to", app.URL,
		"--db", filepath.Join(t.TempDir(), "agent.db"), "--no-tui", "--json", "--no-web")
	listen.line(t, `"type":"ready"`)

	const n = 6 // evt_big, then 5 ordinary ones: seqs 1 to 6
	for i := range n {
		id := fmt.Sprintf("evt_%d", i)
		if i == 0 {
			id = "evt_big"
		}
		if _, _, err := postBig(relayURL+"/h/hdr", id, []byte(`{"action":"payable.created"}`)); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(15 * time.Second)
	for channelCursor(t, data, "hdr") < n {
		if time.Now().After(deadline) {
			t.Fatalf("the agent's cursor is stuck at %d of %d after 15 s: the ack with 9 MiB of answer headers is refused on every reconnect",
				channelCursor(t, data, "hdr"), n)
		}
		time.Sleep(50 * time.Millisecond) // no signal from outside the relay: a poll with a deadline
	}
}
