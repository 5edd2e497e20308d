package main

import (
	"context"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/hooktap/hooktap/inspector/store"
	"github.com/hooktap/hooktap/relay/wire"
)

// The tests in this file play a hostile teammate against the real relay
// binary: a raw WebSocket that speaks the protocol by hand.

// rawAgent is a hand-driven agent connection.
type rawAgent struct {
	t  *testing.T
	ws *websocket.Conn
}

func dialRaw(t *testing.T, relayURL string) *rawAgent {
	t.Helper()
	ws, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(relayURL, "http")+"/agent", nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ws.Close() })
	ws.SetReadDeadline(time.Now().Add(15 * time.Second))
	return &rawAgent{t, ws}
}

func (a *rawAgent) send(m wire.Message) {
	a.t.Helper()
	b, _ := wire.Encode(m)
	if err := a.ws.WriteMessage(websocket.TextMessage, b); err != nil {
		a.t.Fatal(err)
	}
}

func (a *rawAgent) read() wire.Message {
	a.t.Helper()
	_, b, err := a.ws.ReadMessage()
	if err != nil {
		a.t.Fatalf("read: %v", err)
	}
	m, err := wire.Decode(b)
	if err != nil {
		a.t.Fatalf("decode: %v", err)
	}
	return m
}

// TestReusedAgentIDIsRefused: a teammate who learned another agent's id
// connects with it while that agent is offline, to ack its deliveries away.
// The relay refuses it (the id is bound to the owner's key), and the owner
// gets all 30 deliveries when it comes back.
func TestReusedAgentIDIsRefused(t *testing.T) {
	app := newCountingApp(t, 0)
	_, relayURL := startRelay(t)
	db := filepath.Join(t.TempDir(), "victim.db")
	victim := startProc(t, "listen", "--relay", relayURL, "--channel", "team", "--forward-to", app.URL,
		"--db", db, "--no-tui", "--json", "--no-web")
	victim.line(t, `"type":"ready"`)
	victim.stop(t)

	var want []string
	for i := range 30 {
		status, evt := postEvent(relayURL+"/h/team", i)
		if status != http.StatusAccepted {
			t.Fatalf("post %d: %d", i, status)
		}
		want = append(want, evt)
	}
	st, err := store.Open(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	id, _, err := st.AgentID(context.Background())
	st.Close()
	if err != nil {
		t.Fatal(err)
	}

	thief := dialRaw(t, relayURL)
	thief.send(&wire.Hello{Channel: "team", AgentID: id, AgentKey: "the-thief-s-own-key-0123456789"})
	switch m := thief.read().(type) {
	case *wire.Error:
		if m.Code != wire.CodeAgentTaken {
			t.Fatalf("refused with %s: %s", m.Code, m.Message)
		}
	case *wire.Welcome:
		// Play it out as the attacker would: ack whatever comes.
		for {
			d, ok := thief.read().(*wire.Delivery)
			if !ok {
				break
			}
			thief.send(&wire.Ack{ID: d.ID, Seq: d.Seq, Status: 200})
		}
		t.Fatal("the relay welcomed another agent's id with another key")
	default:
		t.Fatalf("got %#v", m)
	}

	back := startProc(t, "listen", "--relay", relayURL, "--channel", "team", "--forward-to", app.URL,
		"--db", db, "--no-tui", "--json", "--no-web")
	back.line(t, `"type":"ready"`)
	app.waitFor(t, want, 20*time.Second)
}

// TestAckFromAnotherChannelIsIgnored: an agent of channel other answers for
// a billing delivery it was never sent; the billing sender gets the answer
// of billing's own agent, never the forged one.
func TestAckFromAnotherChannelIsIgnored(t *testing.T) {
	_, relayURL := startRelay(t, "--response-timeout", "3s")
	victim := dialRaw(t, relayURL)
	victim.send(&wire.Hello{Channel: "billing", AgentID: "agt_victim", AgentKey: "victim-key-0123456789"})
	if _, ok := victim.read().(*wire.Welcome); !ok {
		t.Fatal("victim not welcomed")
	}
	thief := dialRaw(t, relayURL)
	thief.send(&wire.Hello{Channel: "other", AgentID: "agt_thief", AgentKey: "thief-key-0123456789"})
	if _, ok := thief.read().(*wire.Welcome); !ok {
		t.Fatal("thief not welcomed")
	}
	type answer struct {
		status int
		body   string
	}
	got := make(chan answer, 1)
	go func() {
		status, b, err := postBig(relayURL+"/h/billing", "evt_1", []byte(`{"action":"payable.created"}`))
		if err != nil {
			status = -1
		}
		got <- answer{status, string(b)}
	}()
	d, ok := victim.read().(*wire.Delivery)
	if !ok {
		t.Fatal("victim got no delivery")
	}
	thief.send(&wire.Ack{ID: d.ID, Seq: d.Seq, Status: 299, Body: []byte("forged")})
	select {
	case a := <-got:
		t.Fatalf("the billing sender got %d %q before billing's agent answered", a.status, a.body)
	case <-time.After(300 * time.Millisecond): // proving a negative: a bound, not synchronisation
	}
	victim.send(&wire.Ack{ID: d.ID, Seq: d.Seq, Status: 200, Body: []byte("real")})
	if a := <-got; a.status != 200 || a.body != "real" {
		t.Fatalf("the billing sender got %d %q, want billing's agent's 200 real", a.status, a.body)
	}
}
