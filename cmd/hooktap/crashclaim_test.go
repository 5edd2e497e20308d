package main

import (
	"database/sql"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/hooktap/hooktap/relay/wire"
)

// channelCursor is the furthest cursor the relay has saved for channel.
func channelCursor(t *testing.T, data, channel string) int64 {
	t.Helper()
	conn, err := sql.Open("sqlite", "file:"+filepath.Join(data, "relay.db")+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	var seq int64
	if err := conn.QueryRow(`SELECT COALESCE(MAX(seq), 0) FROM cursors WHERE channel = ?`, channel).Scan(&seq); err != nil {
		t.Fatal(err)
	}
	return seq
}

// TestRelayCrashKeepsWhatALeaverHadForTheNextAgent: a teammate's agent
// (no filter) has a counterpart.created in flight that another teammate's
// payable.* filter skipped; the sender was answered 202. The relay is
// killed (kill -9, an OOM kill, a host crash) and the first teammate never
// comes back. README: the next agent gets "those an agent had in flight
// ... when it went away". The unclaimed marks are written only when the
// relay sees a session end, which a crash skips; a new agent starts after
// the payables agent's cursor, past the delivery, and never gets it.
// (With SIGTERM the marks are written and the newcomer gets it.)
func TestRelayCrashKeepsWhatALeaverHadForTheNextAgent(t *testing.T) {
	app := newBigApp(t, []byte("ok"), 0)
	addr, data := freeAddr(t), t.TempDir()
	relayArgs := []string{"relay", "--addr", addr, "--data", data, "--response-timeout", "1s"}
	relayURL := "http://" + addr
	relayProc := startProc(t, relayArgs...)
	relayProc.line(t, "listening on")
	payables := startProc(t, "listen", "--no-web", "--relay", relayURL, "--channel", "team", "--forward-to", app.URL,
		"--db", filepath.Join(t.TempDir(), "p.db"), "--no-tui", "--json", "--no-web", "--events", "payable.*")
	payables.line(t, `"type":"ready"`)
	leaver := dialRaw(t, relayURL)
	leaver.send(&wire.Hello{Channel: "team", AgentID: "agt_leaver", AgentKey: "leaver-key-0123456789"})
	if _, ok := leaver.read().(*wire.Welcome); !ok {
		t.Fatal("leaver not welcomed")
	}

	cp := []byte(`{"id":"evt_cp","action":"counterpart.created"}`)
	answered := make(chan int, 1)
	go func() {
		status, _, _ := postBig(relayURL+"/h/team", "evt_cp", cp)
		answered <- status
	}()
	if d, ok := leaver.read().(*wire.Delivery); !ok || string(d.Body) != string(cp) {
		t.Fatal("the leaver did not get the counterpart")
	}
	if s := <-answered; s != http.StatusAccepted {
		t.Fatalf("counterpart.created: %d, want 202 (kept)", s)
	}
	if s, _, err := postBig(relayURL+"/h/team", "evt_p1", []byte(`{"id":"evt_p1","action":"payable.created"}`)); err != nil || s != http.StatusOK {
		t.Fatalf("payable.created: %d %v", s, err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for channelCursor(t, data, "team") < 2 { // the payables agent is past the counterpart
		if time.Now().After(deadline) {
			t.Fatal("the payables agent's cursor was never saved past the counterpart")
		}
		time.Sleep(20 * time.Millisecond) // no signal from outside the relay: a poll with a deadline
	}

	relayProc.cmd.Process.Kill() // kill -9
	err := <-relayProc.done
	relayProc.done <- err // for Cleanup
	leaver.ws.Close()     // and its owner never comes back
	relayProc = startProc(t, relayArgs...)
	relayProc.line(t, "listening on")

	newcomer := startProc(t, "listen", "--no-web", "--relay", relayURL, "--channel", "team", "--forward-to", app.URL,
		"--db", filepath.Join(t.TempDir(), "new.db"), "--no-tui", "--json", "--no-web")
	newcomer.line(t, `"type":"ready"`)
	app.waitAll(t, map[string]string{"evt_cp": digest(cp)}, 15*time.Second)
}
