package main

import (
	"context"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
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
	victim := startProc(t, "listen", "--no-web", "--relay", relayURL, "--channel", "team", "--forward-to", app.URL,
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

	back := startProc(t, "listen", "--no-web", "--relay", relayURL, "--channel", "team", "--forward-to", app.URL,
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

// TestHugeEventFilterDoesNotStallTheRelay: a teammate (anyone with the
// billing token) says hello with 400,000 event globs, about 5 MB of JSON,
// well under the frame limit. The relay takes them, and matches every
// billing delivery against all of them while it publishes, which it does
// under its relay-wide locks (the buffer's and the server's): about 1.1 s
// a delivery. Two senders posting to billing in a loop then hold up every
// channel: the first 14-byte POST to another channel took 2.4 s and 11.0 s
// in two team-mode runs (in open mode, the worst of 10 took 5.4 s). In open
// mode nobody needs a token for this.
func TestHugeEventFilterDoesNotStallTheRelay(t *testing.T) {
	_, relayURL := startRelay(t, "--admin-token", teamAdmin)
	billing := createChannel(t, relayURL, "billing")
	other := createChannel(t, relayURL, "other")
	events := make([]string, 400_000)
	for i := range events {
		events[i] = fmt.Sprintf("*a*a*a*%d", i)
	}
	hostile := dialRaw(t, relayURL)
	hostile.send(&wire.Hello{Channel: "billing", Token: billing.Token, AgentID: "agt_filter", AgentKey: "filter-key-0123456789",
		Events: events, Binary: true})
	if _, ok := hostile.read().(*wire.Welcome); !ok {
		return // refused: nothing to stall
	}

	stop := make(chan struct{})
	var senders sync.WaitGroup
	t.Cleanup(func() { close(stop); senders.Wait() })
	action := strings.Repeat("a", 250)
	for range 2 {
		senders.Add(1)
		go func() {
			defer senders.Done()
			client := &http.Client{Timeout: 20 * time.Second}
			for {
				select {
				case <-stop:
					return
				default:
				}
				if resp, err := client.Post(billing.URL, "application/json", strings.NewReader(`{"action":"`+action+`"}`)); err == nil {
					resp.Body.Close()
				}
			}
		}()
	}
	for i := range 5 {
		start := time.Now()
		resp, err := http.Post(other.URL, "application/json", strings.NewReader(`{"action":"x"}`))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if took := time.Since(start); took > time.Second {
			t.Fatalf("POST %d to channel other took %v (answered %d) while billing has an agent with %d event globs",
				i, took.Round(10*time.Millisecond), resp.StatusCode, len(events))
		}
	}
}
