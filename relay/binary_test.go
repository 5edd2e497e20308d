package relay

import (
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/gorilla/websocket"

	"github.com/hooktap/hooktap/relay/wire"
)

// An agent that says it reads binary frames gets deliveries in them, with
// the fields the relay read, several to a frame when they queue up; its
// binary acks answer the senders. One that does not say so keeps JSON.
func TestBinaryFramesWhenAgreed(t *testing.T) {
	_, ts := newRelay(t, Config{})
	a := dialAgent(t, ts)
	a.send(&wire.Hello{Channel: "dev", AgentID: "agt_bin", AgentKey: testKey("agt_bin"), Binary: true})
	if w, ok := a.read().(*wire.Welcome); !ok || !w.Binary {
		t.Fatalf("welcome does not agree on binary frames: %#v", w)
	}

	// Ten senders wait for the app's answer; the deliveries queue while
	// the agent does not read.
	const n = 10
	answers := make(chan string, n)
	for i := range n {
		go func() {
			body := `{"id":"ev` + strconv.Itoa(i) + `","action":"payable.created","object_type":"payable","entity_id":"ent1","object":{"id":"obj1"}}`
			resp, err := http.Post(ts.URL+"/h/dev", "application/json", strings.NewReader(body))
			if err != nil {
				answers <- err.Error()
				return
			}
			resp.Body.Close()
			answers <- resp.Header.Get("X-App")
		}()
	}
	var got []*wire.Delivery
	frames := 0
	for len(got) < n {
		typ, b, err := a.ws.ReadMessage()
		if err != nil {
			t.Fatal(err)
		}
		if typ != websocket.BinaryMessage {
			t.Fatalf("a %d frame, not binary: %q", typ, b)
		}
		frames++
		msgs, err := wire.DecodeBinary(b)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range msgs {
			got = append(got, m.(*wire.Delivery))
		}
	}
	for i, d := range got {
		if i > 0 && d.Seq != got[i-1].Seq+1 {
			t.Fatalf("out of order: seq %d after %d", d.Seq, got[i-1].Seq)
		}
		if f := d.Fields; f == nil || f.Action != "payable.created" || f.EntityID != "ent1" || f.ObjectID != "obj1" {
			t.Fatalf("fields %+v", d.Fields)
		}
	}
	t.Logf("%d deliveries in %d frames", n, frames)

	// All acks in one binary frame.
	acks := make([]wire.Message, 0, n)
	for _, d := range got {
		acks = append(acks, &wire.Ack{ID: d.ID, Seq: d.Seq, Status: 200, Header: http.Header{"X-App": {"bin"}}})
	}
	b, err := wire.AppendBinary(nil, acks...)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.ws.WriteMessage(websocket.BinaryMessage, b); err != nil {
		t.Fatal(err)
	}
	for range n {
		if h := <-answers; h != "bin" {
			t.Fatalf("sender got %q, want the app's answer", h)
		}
	}

	// A JSON-only agent on another channel gets text frames.
	j := dialAgent(t, ts)
	if w := j.hello("text", "agt_text"); w.Binary {
		t.Fatal("binary frames for an agent that did not ask")
	}
	go postQuiet(ts.URL+"/h/text", []byte(`{"action":"tag.created"}`))
	typ, msg, err := j.ws.ReadMessage()
	if err != nil || typ != websocket.TextMessage {
		t.Fatalf("frame %d %q %v", typ, msg, err)
	}
	d, err := wire.Decode(msg)
	if dd, ok := d.(*wire.Delivery); err != nil || !ok || dd.Fields == nil || dd.Fields.Action != "tag.created" {
		t.Fatalf("text delivery %#v %v", d, err)
	}
}

// Deliveries reach agents while they are being committed. With a tiny
// window most of a burst overflows and is read back from the buffer,
// racing the commits: every delivery must still arrive once, in order.
func TestOverflowWhileCommittingKeepsOrder(t *testing.T) {
	_, ts := newRelay(t, Config{Window: 2})
	a := dialAgent(t, ts)
	a.send(&wire.Hello{Channel: "dev", AgentID: "agt_order", AgentKey: testKey("agt_order"), Binary: true})
	if w, ok := a.read().(*wire.Welcome); !ok || !w.Binary {
		t.Fatal("no welcome")
	}
	const senders, each = 16, 25
	statuses := make(chan int, senders*each)
	for range senders {
		go func() {
			for range each {
				resp, err := http.Post(ts.URL+"/h/dev", "application/json", strings.NewReader(`{"action":"tag.created"}`))
				if err != nil {
					statuses <- 0
					continue
				}
				resp.Body.Close()
				statuses <- resp.StatusCode
			}
		}()
	}
	var last int64
	for last < senders*each {
		typ, b, err := a.ws.ReadMessage()
		if err != nil {
			t.Fatalf("after seq %d: %v", last, err)
		}
		if typ != websocket.BinaryMessage {
			t.Fatalf("frame type %d", typ)
		}
		msgs, err := wire.DecodeBinary(b)
		if err != nil {
			t.Fatal(err)
		}
		acks := make([]wire.Message, 0, len(msgs))
		for _, m := range msgs {
			d := m.(*wire.Delivery)
			if d.Seq != last+1 {
				t.Fatalf("seq %d after %d: a delivery lost or repeated", d.Seq, last)
			}
			last = d.Seq
			acks = append(acks, &wire.Ack{ID: d.ID, Seq: d.Seq, Status: 200})
		}
		out, _ := wire.AppendBinary(nil, acks...)
		if err := a.ws.WriteMessage(websocket.BinaryMessage, out); err != nil {
			t.Fatal(err)
		}
	}
	for range senders * each {
		if s := <-statuses; s != http.StatusOK && s != http.StatusAccepted {
			t.Fatalf("a sender got %d", s)
		}
	}
}
