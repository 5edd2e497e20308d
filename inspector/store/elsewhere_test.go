package store

import (
	"context"
	"net/http"
	"testing"
	"time"
)

// TestImportKeepsReplaysElsewhereApart: an imported history whose last
// attempt is a replay to another target gives the row its forward's status
// and target, and the replay as Elsewhere, as AddAttempt does live.
func TestImportKeepsReplaysElsewhereApart(t *testing.T) {
	s := openTestStore(t)
	ctx := context.Background()
	at := time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC)
	home, other := "http://127.0.0.1:3000/webhooks", "http://staging.example/hooks"
	d := &Delivery{ID: "dlv_import", Channel: "dev", ReceivedAt: at, Method: "POST",
		Header: http.Header{"Content-Type": {"application/json"}}, Body: []byte(`{}`),
		History: []*Attempt{
			{Kind: KindForward, Target: home, StartedAt: at, Duration: time.Millisecond, Status: 500},
			{Kind: KindReplay, Target: home, StartedAt: at.Add(time.Minute), Duration: time.Millisecond, Status: 200},
			{Kind: KindResend, Target: other, StartedAt: at.Add(2 * time.Minute), Duration: time.Millisecond, Status: 404},
		}}
	if _, err := s.Import(ctx, []*Delivery{d}); err != nil {
		t.Fatal(err)
	}
	ds, err := s.List(ctx, Query{})
	if err != nil || len(ds) != 1 {
		t.Fatalf("list: %v %d", err, len(ds))
	}
	got := ds[0]
	want := Elsewhere{Kind: KindResend, Target: other, Status: 404}
	if got.Status != 200 || got.Target != home || got.Attempts != 3 || got.Elsewhere == nil || *got.Elsewhere != want {
		t.Errorf("row: status %d, target %s, attempts %d, elsewhere %+v", got.Status, got.Target, got.Attempts, got.Elsewhere)
	}
	full, err := s.Get(ctx, d.ID)
	if err != nil {
		t.Fatal(err)
	}
	if l := full.Latest(); l == nil || l.Kind != KindReplay || l.Status != 200 {
		t.Errorf("Latest = %+v, want the replay to %s", l, home)
	}
}
