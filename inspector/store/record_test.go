package store

import (
	"net/http"
	"path/filepath"
	"testing"
	"time"
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
