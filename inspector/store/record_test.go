package store

import (
	"encoding/json"
	"net/http"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/hooktap/hooktap/inspector/signing"
)

func TestRecordOnceThenAsAttempt(t *testing.T) {
	st, err := Open(t.Context(), filepath.Join(t.TempDir(), "r.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	d := &Delivery{ID: "rec1", ReceivedAt: time.Now().UTC(), Method: "POST", Header: http.Header{"X": {"1"}},
		Body: []byte(`{"action":"tag.created"}`), Action: "tag.created"}
	first := &Attempt{DeliveryID: "rec1", Kind: KindForward, Target: "http://app/x", StartedAt: time.Now(), Duration: time.Millisecond, Status: 201, Body: []byte("ok")}
	if err := Wait(t.Context(), st.Record(d, first)); err != nil {
		t.Fatal(err)
	}
	// The relay sends it again (a redelivery): one delivery, two attempts.
	again := &Attempt{DeliveryID: "rec1", Kind: KindForward, Target: "http://app/x", StartedAt: time.Now(), Duration: 2 * time.Millisecond, Error: "connection refused"}
	if err := Wait(t.Context(), st.Record(d, again)); err != nil {
		t.Fatal(err)
	}
	got, err := st.Get(t.Context(), "rec1")
	if err != nil {
		t.Fatal(err)
	}
	if got.Attempts != 2 || len(got.History) != 2 || got.Status != 0 || got.Error != "connection refused" {
		t.Fatalf("delivery %+v, history %d", got, len(got.History))
	}
	if h := got.History[0]; h.Status != 201 || string(h.Body) != "ok" || h.ID == 0 {
		t.Fatalf("first attempt %+v", h)
	}
	if n, _ := st.Count(t.Context()); n != 1 {
		t.Fatalf("%d deliveries stored, want 1", n)
	}
	// Searchable like any other.
	if ds, err := st.List(t.Context(), Query{Search: "tag"}); err != nil || len(ds) != 1 {
		t.Fatalf("search: %v %d", err, len(ds))
	}
}

func TestEachLimitIsNewestOldestFirst(t *testing.T) {
	st, err := Open(t.Context(), filepath.Join(t.TempDir(), "e.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	for _, id := range []string{"e1", "e2", "e3", "e4", "e5"} {
		if err := Wait(t.Context(), st.Insert(&Delivery{ID: id, ReceivedAt: time.Now(), Method: "POST", Action: "tag.created"})); err != nil {
			t.Fatal(err)
		}
	}
	var got []string
	err = st.Each(t.Context(), Query{Limit: 2}, func(d *Delivery) error {
		got = append(got, d.ID)
		return nil
	})
	if err != nil || len(got) != 2 || got[0] != "e4" || got[1] != "e5" {
		t.Fatalf("Each(limit 2) = %v, %v; want [e4 e5]", got, err)
	}
	got = nil
	st.Each(t.Context(), Query{Limit: 2, Action: "nope"}, func(d *Delivery) error { got = append(got, d.ID); return nil })
	if len(got) != 0 {
		t.Fatalf("no match: %v", got)
	}
}

func TestSearchSkipsSignatureHeaders(t *testing.T) {
	st, err := Open(t.Context(), filepath.Join(t.TempDir(), "s.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	d := &Delivery{ID: "sig1", ReceivedAt: time.Now(), Method: "POST",
		Header: http.Header{"Monite-Signature": {"t=1700000000,v1=feedface0123456789"}, "X-Request-Id": {"req7f3a9c"}},
		Body:   []byte(`{"action":"tag.created","id":"evt_42"}`)}
	if err := Wait(t.Context(), st.Insert(d)); err != nil {
		t.Fatal(err)
	}
	for text, want := range map[string]int{"req7f3a9c": 1, "evt_42": 1, "feedface0123456789": 0} {
		ds, err := st.List(t.Context(), Query{Search: text})
		if err != nil || len(ds) != want {
			t.Errorf("search %q: %d results, %v; want %d", text, len(ds), err, want)
		}
	}
}

// TestRecordShape pins the one JSON shape of a delivery in full: `events
// show --json`, the web API's GET /api/deliveries/{id} and `events export`
// all print this.
func TestRecordShape(t *testing.T) {
	at := time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
	d := &Delivery{
		ID: "dlv_1", Channel: "dev", RelaySeq: 7, ReceivedAt: at, Method: "POST", Path: "/billing", Query: "a=1",
		Header: http.Header{"Content-Type": {"application/json"}}, Body: []byte(`{"action":"payable.paid"}`),
		RemoteAddr: "203.0.113.7", Host: "relay.example", Proto: "https",
		ObjectType: "payable", Action: "payable.paid", EntityID: "ent_1", ObjectID: "pay_1", EventID: "evt_1",
		Scheme: "monite", Signature: signing.Valid, SignatureReason: "signature matches",
		Status: 500, DurationMS: 2.5, Attempts: 2, Target: "http://localhost:3000/webhooks/billing?a=1",
		History: []*Attempt{
			{ID: 1, DeliveryID: "dlv_1", Kind: KindForward, Target: "http://localhost:3000/webhooks/billing?a=1", StartedAt: at,
				Duration: 1234 * time.Microsecond, Status: 200, Header: http.Header{"X-App": {"1"}}, Body: []byte("ok")},
			{ID: 2, DeliveryID: "dlv_1", Kind: KindResend, Target: "http://localhost:3000/webhooks/billing?a=1", StartedAt: at.Add(time.Minute),
				Duration: 2500 * time.Microsecond, Status: 500, Header: http.Header{}, Body: []byte{0xff, 0x00},
				RequestHeader: http.Header{"Monite-Signature": {"t=1,v1=ab"}}, RequestBody: []byte(`{"edited":true}`)},
		},
	}
	got, err := json.MarshalIndent(NewRecord(d), "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	const want = `{
  "id": "dlv_1",
  "channel": "dev",
  "received_at": "2026-11-01T12:00:00Z",
  "method": "POST",
  "path": "/billing",
  "query": "a=1",
  "object_type": "payable",
  "action": "payable.paid",
  "entity_id": "ent_1",
  "object_id": "pay_1",
  "event_id": "evt_1",
  "scheme": "monite",
  "signature": "valid",
  "signature_reason": "signature matches",
  "status": 500,
  "duration_ms": 2.5,
  "attempts": 2,
  "target": "http://localhost:3000/webhooks/billing?a=1",
  "relay_seq": 7,
  "remote_addr": "203.0.113.7",
  "host": "relay.example",
  "proto": "https",
  "headers": {
    "Content-Type": [
      "application/json"
    ]
  },
  "body": "{\"action\":\"payable.paid\"}",
  "body_encoding": "text",
  "body_size": 25,
  "history": [
    {
      "id": 1,
      "kind": "forward",
      "target": "http://localhost:3000/webhooks/billing?a=1",
      "started_at": "2026-11-01T12:00:00Z",
      "duration_ms": 1.234,
      "status": 200,
      "response": {
        "headers": {
          "X-App": [
            "1"
          ]
        },
        "body": "ok",
        "body_encoding": "text",
        "body_size": 2
      }
    },
    {
      "id": 2,
      "kind": "resend",
      "target": "http://localhost:3000/webhooks/billing?a=1",
      "started_at": "2026-11-01T12:01:00Z",
      "duration_ms": 2.5,
      "status": 500,
      "request": {
        "headers": {
          "Monite-Signature": [
            "t=1,v1=ab"
          ]
        },
        "body": "{\"edited\":true}",
        "body_encoding": "text",
        "body_size": 15
      },
      "response": {
        "headers": {},
        "body": "/wA=",
        "body_encoding": "base64",
        "body_size": 2
      }
    }
  ]
}`
	if string(got) != want {
		t.Errorf("the record's shape changed:\n%s", got)
	}
	// And it reads back as it was (the summary is rebuilt on import).
	back, err := decodeRecord(got)
	if err != nil {
		t.Fatal(err)
	}
	back.Status, back.DurationMS, back.Attempts, back.Target = d.Status, d.DurationMS, d.Attempts, d.Target
	for i, a := range back.History {
		a.ID = d.History[i].ID
	}
	if !reflect.DeepEqual(back, d) {
		t.Errorf("read back:\n%+v\nwant\n%+v", back, d)
	}
}
