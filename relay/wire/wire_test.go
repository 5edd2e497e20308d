package wire

import (
	"bytes"
	"errors"
	"net/http"
	"reflect"
	"testing"
	"time"
)

func TestRoundTrip(t *testing.T) {
	msgs := []Message{
		&Hello{Channel: "dev", Token: "t", AgentID: "agt_1", Events: []string{"payable.*"}},
		&Welcome{Channel: "dev", URL: "http://r/h/dev", AgentID: "agt_1"},
		&Delivery{ID: "d1", Seq: 7, Channel: "dev", ReceivedAt: time.Unix(1700000000, 5000).UTC(), Method: "POST",
			Path: "/x%2Fy", Query: "a=1", Header: http.Header{"X-A": {"1", "2"}}, Body: []byte{0, 1, 0xff, '{'}},
		&Ack{ID: "d1", Seq: 7, Status: 201, Header: http.Header{"X-B": {"b"}}, Body: []byte("ok"), DurationMS: 1.5},
		&Ack{ID: "d2", Seq: 8, Error: "connection refused", Timeout: true},
		&Error{Code: CodeUnauthorized, Message: "bad token"},
	}
	for _, m := range msgs {
		b, err := Encode(m)
		if err != nil {
			t.Fatalf("encode %T: %v", m, err)
		}
		got, err := Decode(b)
		if err != nil {
			t.Fatalf("decode %s: %v", b, err)
		}
		if !reflect.DeepEqual(got, m) {
			t.Errorf("round trip of %T:\n got %#v\nwant %#v", m, got, m)
		}
	}
}

func TestUnknownTypeIsKept(t *testing.T) {
	in := []byte(`{"v":3,"type":"stats","data":{"agents":4}}`)
	m, err := Decode(in)
	if err != nil {
		t.Fatal(err)
	}
	u, ok := m.(*Unknown)
	if !ok || u.Type != "stats" || string(u.Data) != `{"agents":4}` {
		t.Fatalf("got %#v", m)
	}
	out, err := Encode(u)
	if err != nil || !bytes.Contains(out, []byte(`"type":"stats"`)) || !bytes.Contains(out, []byte(`{"agents":4}`)) {
		t.Fatalf("re-encode: %s %v", out, err)
	}
}

var malformed = []string{
	``,
	`null`,
	`[]`,
	`{"type":"hello"}`,                   // no version
	`{"v":1}`,                            // no type
	`{"v":1,"type":"hello"}`,             // no data
	`{"v":1,"type":"hello","data":null}`, // null data
	`{"v":1,"type":"hello","data":{}}`,   // no channel
	`{"v":1,"type":"delivery","data":{"id":"x"}}`,
	`{"v":1,"type":"ack","data":{"id":"x","status":42}}`,
	`{"v":1,"type":"ack","data":{"id":5}}`,
	`{"v":1,"type":"delivery","data":{"id":"x","method":"POST","body":"!!notbase64"}}`,
	`{"v":1,"type":"hello","data":{"channel":"a"}`, // truncated
}

func TestMalformed(t *testing.T) {
	for _, in := range malformed {
		if m, err := Decode([]byte(in)); err == nil || !errors.Is(err, ErrMalformed) {
			t.Errorf("Decode(%q) = %#v, %v; want ErrMalformed", in, m, err)
		}
	}
}

func FuzzDecode(f *testing.F) {
	for _, in := range malformed {
		f.Add([]byte(in))
	}
	f.Add([]byte(`{"v":1,"type":"delivery","data":{"id":"d","method":"POST","body":"AAE="}}`))
	f.Add([]byte(`{"v":1,"type":"zzz","data":[1,2]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := Decode(b)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error not wrapping ErrMalformed: %v", err)
			}
			return
		}
		// Whatever decodes must encode and decode to the same type.
		out, err := Encode(m)
		if err != nil {
			t.Fatalf("re-encode %#v: %v", m, err)
		}
		m2, err := Decode(out)
		if err != nil {
			t.Fatalf("decode of re-encoded %s: %v", out, err)
		}
		if m2.MessageType() != m.MessageType() {
			t.Fatalf("type changed: %s -> %s", m.MessageType(), m2.MessageType())
		}
	})
}
