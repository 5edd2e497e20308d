package inspector

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
