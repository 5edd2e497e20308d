package store

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hooktap/hooktap/inspector/testenv"
)

// The full-text index has a file of its own, written in the background: on
// a full disk it fails, says so once, and catches up by itself once there
// is room, with no new delivery or search to ask it.
func TestIndexRetriesAfterFullDisk(t *testing.T) {
	if !testenv.AsRoot(t) {
		return
	}
	disk := testenv.SmallDisk(t, 4<<20)
	s, err := Open(t.Context(), filepath.Join(disk, "a.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var logs testenv.Log
	s.SetLogger(slog.New(slog.NewTextHandler(&logs, nil)))

	// Hold the indexer back while deliveries are stored and the disk
	// fills: then it finds them to index, and no room.
	s.indexMu.Lock()
	var pending []<-chan error
	for i := range 300 {
		d := &Delivery{ID: fmt.Sprintf("dlv_%04d", i), Channel: "dev", ReceivedAt: time.Now(), Method: "POST",
			Header: http.Header{"Content-Type": {"application/json"}},
			Body:   fmt.Appendf(nil, `{"id":"evt_%04d","note":%q}`, i, strings.Repeat(fmt.Sprintf("word%d ", i), 100))}
		pending = append(pending, s.Insert(d))
	}
	for _, p := range pending {
		if err := <-p; err != nil {
			t.Fatal(err)
		}
	}
	filler := filepath.Join(disk, "filler")
	testenv.FillDisk(t, filler)
	s.indexMu.Unlock()
	testenv.Eventually(t, 10*time.Second, "the index's error in the log", func() bool {
		return strings.Contains(logs.String(), "the full-text index cannot write")
	})

	// Writes of the store go on meanwhile (here they fail: the disk is
	// full), never waiting for the index.
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	if err := Wait(ctx, s.Insert(&Delivery{ID: "dlv_full", Channel: "dev", ReceivedAt: time.Now(), Body: bytes.Repeat([]byte("x"), 64<<10)})); err == nil || ctx.Err() != nil {
		t.Fatalf("a write on the full disk: %v (context: %v)", err, ctx.Err())
	}

	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	var through int64
	testenv.Eventually(t, 30*time.Second, "the index catching up by itself", func() bool {
		if err := s.db.R.QueryRow(`SELECT through FROM search.indexed`).Scan(&through); err != nil {
			t.Fatal(err)
		}
		return through >= 300
	})
	// It says so after the commit that shows it caught up.
	testenv.Eventually(t, 10*time.Second, "the index saying it writes again", func() bool {
		return strings.Contains(logs.String(), "the full-text index writes again")
	})
	if got := logs.String(); strings.Count(got, "the full-text index cannot write") != 1 {
		t.Errorf("log:\n%s", got)
	}
	found, err := s.List(t.Context(), Query{Search: "word299"})
	if err != nil || len(found) != 1 || found[0].ID != "dlv_0299" {
		t.Fatalf("search after recovery: %v %v", ids(found), err)
	}
}
