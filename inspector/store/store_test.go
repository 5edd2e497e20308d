package store

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"github.com/hooktap/hooktap/inspector/signing"
	"github.com/hooktap/hooktap/relay/sqlitedb"
)

func openTestStore(t *testing.T) *Store {
	t.Helper()
	s, err := Open(t.Context(), filepath.Join(t.TempDir(), "hooktap.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// storeFixture is one delivery and its attempt statuses (0: no answer).
type storeFixture struct {
	id, objectType, action, entity string
	age                            time.Duration
	body                           string
	statuses                       []int
}

var storeBase = time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)

var storeFixtures = []storeFixture{
	{"dlv_a1", "payable", "payable.created", "ent_1", 3 * time.Hour, `{"action":"payable.created","object":{"amount":1200,"currency":"EUR","counterpart_name":"Acme GmbH"}}`, []int{200}},
	{"dlv_a2", "payable", "payable.approved", "ent_1", 2 * time.Hour, `{"action":"payable.approved","object":{"note":"quarterly rent"}}`, []int{500, 200}},
	{"dlv_b1", "receivable", "receivable.created", "ent_2", 90 * time.Minute, `{"action":"receivable.created","object":{"invoice_number":"INV-2026-0042"}}`, []int{404}},
	{"dlv_b2", "counterpart", "counterpart.created", "ent_2", 30 * time.Minute, `{"action":"counterpart.created","object":{"name":"Globex Corporation"}}`, []int{0}},
	{"dlv_c1", "payable", "payable.paid", "ent_3", 10 * time.Minute, `{"action":"payable.paid","object":{"amount":99}}`, nil},
	{"dlv_c2", "payable_line_item", "payable_line_item.created", "ent_1", 5 * time.Minute, `{"action":"payable_line_item.created"}`, []int{201}},
}

func (f storeFixture) delivery() *Delivery {
	return &Delivery{
		ID: f.id, Channel: "dev", ReceivedAt: storeBase.Add(-f.age), Method: "POST", Path: "/",
		Header:     http.Header{"Content-Type": {"application/json"}, "X-Request-Id": {"req-" + f.id}},
		Body:       []byte(f.body),
		ObjectType: f.objectType, Action: f.action, EntityID: f.entity, ObjectID: "obj_" + f.id,
	}
}

func fillStore(t *testing.T, s *Store, fs []storeFixture) {
	t.Helper()
	ctx := t.Context()
	for _, f := range fs {
		d := f.delivery()
		if err := Wait(ctx, s.Insert(d)); err != nil {
			t.Fatal(err)
		}
		for i, st := range f.statuses {
			a := &Attempt{DeliveryID: f.id, Kind: KindForward, Target: "http://127.0.0.1:3000/webhooks",
				StartedAt: d.ReceivedAt.Add(time.Duration(i) * time.Second), Duration: 1500 * time.Microsecond,
				Status: st, Header: http.Header{"Content-Type": {"text/plain"}}, Body: []byte("ok")}
			if i > 0 {
				a.Kind = KindReplay
			}
			if st == 0 {
				a.Error, a.Header, a.Body = "connection refused", nil, nil
			}
			if err := Wait(ctx, s.AddAttempt(a)); err != nil {
				t.Fatal(err)
			}
		}
	}
}

func ids(ds []*Delivery) []string {
	var out []string
	for _, d := range ds {
		out = append(out, d.ID)
	}
	return out
}

func TestListFilters(t *testing.T) {
	s := openTestStore(t)
	fillStore(t, s, storeFixtures)
	tests := []struct {
		name string
		q    Query
		want []string // newest first
	}{
		{"all", Query{}, []string{"dlv_c2", "dlv_c1", "dlv_b2", "dlv_b1", "dlv_a2", "dlv_a1"}},
		{"limit", Query{Limit: 2}, []string{"dlv_c2", "dlv_c1"}},
		{"object type", Query{ObjectType: "payable"}, []string{"dlv_c1", "dlv_a2", "dlv_a1"}},
		{"action exact", Query{Action: "payable.paid"}, []string{"dlv_c1"}},
		{"action glob", Query{Action: "payable.*"}, []string{"dlv_c1", "dlv_a2", "dlv_a1"}},
		{"action glob wide", Query{Action: "payable*"}, []string{"dlv_c2", "dlv_c1", "dlv_a2", "dlv_a1"}},
		{"entity", Query{EntityID: "ent_2"}, []string{"dlv_b2", "dlv_b1"}},
		{"status 2xx", Query{Status: mustStatus("2xx")}, []string{"dlv_c2", "dlv_a2", "dlv_a1"}},
		{"status 4xx", Query{Status: mustStatus("4xx")}, []string{"dlv_b1"}},
		{"status 5xx is the latest attempt's", Query{Status: mustStatus("5xx")}, nil},
		{"status code", Query{Status: mustStatus("201")}, []string{"dlv_c2"}},
		{"status error", Query{Status: mustStatus("error")}, []string{"dlv_b2"}},
		{"status pending", Query{Status: mustStatus("pending")}, []string{"dlv_c1"}},
		{"since", Query{Since: storeBase.Add(-time.Hour)}, []string{"dlv_c2", "dlv_c1", "dlv_b2"}},
		{"search body word", Query{Search: "Globex"}, []string{"dlv_b2"}},
		{"search case-insensitive", Query{Search: "globex corporation"}, []string{"dlv_b2"}},
		{"search prefix of last word", Query{Search: "quarter"}, []string{"dlv_a2"}},
		{"search dotted token", Query{Search: "INV-2026-0042"}, []string{"dlv_b1"}},
		{"search header", Query{Search: "req-dlv_a1"}, []string{"dlv_a1"}},
		{"search all words", Query{Search: "payable amount"}, []string{"dlv_c1", "dlv_a1"}},
		{"search no match", Query{Search: "nothing-like-this"}, nil},
		{"search quotes are text", Query{Search: `"Acme`}, []string{"dlv_a1"}},
		{"search and filter", Query{Search: "amount", EntityID: "ent_3"}, []string{"dlv_c1"}},
		{"search and before", Query{Search: "action", Before: 5}, []string{"dlv_b2", "dlv_b1", "dlv_a2", "dlv_a1"}},
		{"combined", Query{ObjectType: "payable", Status: mustStatus("2xx"), Since: storeBase.Add(-150 * time.Minute)}, []string{"dlv_a2"}},
		{"paging", Query{Before: 3, Limit: 10}, []string{"dlv_a2", "dlv_a1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := s.List(t.Context(), tt.q)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(ids(got), tt.want) {
				t.Errorf("List(%+v) = %v, want %v", tt.q, ids(got), tt.want)
			}
			n, err := s.CountMatching(t.Context(), tt.q)
			if err != nil {
				t.Fatal(err)
			}
			if tt.q.Limit == 0 && n != int64(len(tt.want)) {
				t.Errorf("CountMatching = %d, want %d", n, len(tt.want))
			}
		})
	}
}

func TestParseStatus(t *testing.T) {
	for _, st := range []string{"6xx", "abc", "42", "2x", "1000"} {
		if _, err := ParseStatus(st); err == nil {
			t.Errorf("status %q: no error", st)
		}
	}
	for in, want := range map[string]string{"": "", "2XX": "2xx", " 404 ": "404", "err": "error", "pending": "pending"} {
		if st, err := ParseStatus(in); err != nil || st.String() != want {
			t.Errorf("ParseStatus(%q) = %q, %v", in, st, err)
		}
	}
}

func TestSearchSkipsBinaryBody(t *testing.T) {
	s := openTestStore(t)
	d := &Delivery{ID: "dlv_bin", ReceivedAt: storeBase, Method: "POST", Body: []byte{0xff, 0xfe, 'n', 'e', 'e', 'd', 'l', 'e', 0x00}}
	if err := Wait(t.Context(), s.Insert(d)); err != nil {
		t.Fatal(err)
	}
	got, err := s.List(t.Context(), Query{Search: "needle"})
	if err != nil || len(got) != 0 {
		t.Fatalf("binary body searched: %v, %v", ids(got), err)
	}
	full, err := s.Get(t.Context(), "dlv_bin")
	if err != nil || !bytes.Equal(full.Body, d.Body) {
		t.Fatalf("binary body not stored as is: %q, %v", full.Body, err)
	}
}

func TestInsertIdempotent(t *testing.T) {
	s := openTestStore(t)
	d := storeFixtures[0].delivery()
	for range 3 {
		if err := Wait(t.Context(), s.Insert(d)); err != nil {
			t.Fatal(err)
		}
	}
	if n, _ := s.Count(t.Context()); n != 1 {
		t.Fatalf("count = %d after redelivery, want 1", n)
	}
	got, err := s.List(t.Context(), Query{Search: "Acme"})
	if err != nil || len(got) != 1 {
		t.Fatalf("indexed %d times, want once (err %v)", len(got), err)
	}
}

func TestGetPrefix(t *testing.T) {
	s := openTestStore(t)
	fillStore(t, s, storeFixtures)
	d, err := s.Get(t.Context(), "dlv_b1")
	if err != nil || d.ID != "dlv_b1" || len(d.History) != 1 || d.History[0].Status != 404 {
		t.Fatalf("Get exact = %+v, %v", d, err)
	}
	if d, err := s.Get(t.Context(), "dlv_c2"[:5]+"2"); err != nil || d.ID != "dlv_c2" {
		t.Fatalf("unique prefix: %v, %v", d, err)
	}
	if _, err := s.Get(t.Context(), "dlv_a"); !errors.Is(err, ErrAmbiguous) {
		t.Fatalf("ambiguous prefix: %v", err)
	}
	if _, err := s.Get(t.Context(), "dlv_zz"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("unknown id: %v", err)
	}
}

func TestConcurrentWriters(t *testing.T) {
	s := openTestStore(t)
	ctx := t.Context()
	const writers, each = 8, 50
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				id := fmt.Sprintf("dlv_w%d_%03d", w, i)
				d := &Delivery{ID: id, ReceivedAt: storeBase, Method: "POST", Body: []byte(`{"writer":` + fmt.Sprint(w) + `}`),
					ObjectType: "payable", Action: "payable.created"}
				stored := s.Insert(d)
				recorded := s.AddAttempt(&Attempt{DeliveryID: id, Kind: KindForward, Target: "http://app", StartedAt: storeBase, Status: 200 + w})
				if err := errors.Join(Wait(ctx, stored), Wait(ctx, recorded)); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	// Readers run while the writers write.
	done := make(chan struct{})
	var readErr error
	go func() {
		defer close(done)
		for range 20 {
			if _, err := s.List(ctx, Query{Status: mustStatus("2xx"), Search: "writer"}); err != nil {
				readErr = err
				return
			}
		}
	}()
	wg.Wait()
	<-done
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if readErr != nil {
		t.Fatal(readErr)
	}
	if n, _ := s.Count(ctx); n != writers*each {
		t.Fatalf("count = %d, want %d", n, writers*each)
	}
	for w := range writers {
		n, err := s.CountMatching(ctx, Query{Status: mustStatus(fmt.Sprint(200 + w))})
		if err != nil || n != each {
			t.Fatalf("writer %d: %d deliveries with its status, want %d (%v)", w, n, each, err)
		}
	}
}

func TestPrune(t *testing.T) {
	tests := []struct {
		name string
		r    Retention
		want []string
	}{
		{"nothing", Retention{}, []string{"dlv_c2", "dlv_c1", "dlv_b2", "dlv_b1", "dlv_a2", "dlv_a1"}},
		{"max deliveries", Retention{MaxDeliveries: 2}, []string{"dlv_c2", "dlv_c1"}},
		{"max age", Retention{MaxAge: time.Hour}, []string{"dlv_c2", "dlv_c1", "dlv_b2"}},
		{"both", Retention{MaxAge: time.Hour, MaxDeliveries: 1}, []string{"dlv_c2"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := openTestStore(t)
			// Half indexed, half still queued: both go with their deliveries.
			fillStore(t, s, storeFixtures[:3])
			if err := s.indexPending(t.Context()); err != nil {
				t.Fatal(err)
			}
			fillStore(t, s, storeFixtures[3:])
			n, err := s.Prune(t.Context(), tt.r, storeBase)
			if err != nil {
				t.Fatal(err)
			}
			if want := int64(len(storeFixtures) - len(tt.want)); n != want {
				t.Errorf("pruned %d, want %d", n, want)
			}
			got, _ := s.List(t.Context(), Query{Limit: 100})
			if !slices.Equal(ids(got), tt.want) {
				t.Errorf("kept %v, want %v", ids(got), tt.want)
			}
			// Attempts and index entries went with their deliveries.
			var attempts, indexed int
			s.db.R.QueryRow(`SELECT COUNT(*) FROM attempts WHERE delivery_seq NOT IN (SELECT seq FROM deliveries)`).Scan(&attempts)
			var orphans int
			s.db.R.QueryRow(`SELECT COUNT(*) FROM fts_pending WHERE seq NOT IN (SELECT seq FROM deliveries)`).Scan(&orphans)
			if orphans != 0 {
				t.Errorf("%d pruned deliveries still queued for the index", orphans)
			}
			if err := s.indexPending(t.Context()); err != nil {
				t.Fatal(err)
			}
			s.db.R.QueryRow(`SELECT COUNT(*) FROM deliveries_fts WHERE deliveries_fts MATCH 'action'`).Scan(&indexed)
			if attempts != 0 || indexed != len(tt.want) {
				t.Errorf("left %d orphan attempts and %d index rows (want 0 and %d)", attempts, indexed, len(tt.want))
			}
		})
	}
}

func TestPruneManyBatches(t *testing.T) {
	s := openTestStore(t)
	ctx := t.Context()
	const total = pruneBatch*2 + 17
	ds := make([]*Delivery, total)
	for i := range ds {
		ds[i] = &Delivery{ID: fmt.Sprintf("dlv_%06d", i), ReceivedAt: storeBase, Method: "POST"}
	}
	if _, err := s.Import(ctx, ds); err != nil {
		t.Fatal(err)
	}
	n, err := s.Prune(ctx, Retention{MaxDeliveries: 10}, storeBase)
	if err != nil || n != total-10 {
		t.Fatalf("pruned %d (%v), want %d", n, err, total-10)
	}
	got, _ := s.List(ctx, Query{Limit: 1000})
	if len(got) != 10 || got[0].ID != fmt.Sprintf("dlv_%06d", total-1) {
		t.Fatalf("kept %v", ids(got))
	}
}

func TestExportImportRoundTrip(t *testing.T) {
	ctx := t.Context()
	src := openTestStore(t)
	fillStore(t, src, storeFixtures)
	// A binary body, a resend with its own request, and an empty body.
	bin := &Delivery{ID: "dlv_binary", Channel: "team", RelaySeq: 42, ReceivedAt: storeBase.Add(123456 * time.Microsecond),
		Method: "PUT", Path: "/upload", Query: "a=1&b=%20", Header: http.Header{"Content-Type": {"application/octet-stream"}, "X-Multi": {"1", "2"}},
		Body: []byte{0x00, 0xff, 0x80, 'h', 'i', 0xc3}, RemoteAddr: "10.0.0.1:5555", Host: "relay.example", Proto: "HTTP/2.0",
		Scheme: "monite", Signature: signing.Invalid, SignatureReason: "signature mismatch", EventID: "evt_1"}
	empty := &Delivery{ID: "dlv_empty", ReceivedAt: storeBase, Method: "POST", Body: []byte{}}
	for _, d := range []*Delivery{bin, empty} {
		if err := Wait(ctx, src.Insert(d)); err != nil {
			t.Fatal(err)
		}
	}
	resend := &Attempt{DeliveryID: "dlv_binary", Kind: KindResend, Target: "http://127.0.0.1:3000/upload?a=1",
		StartedAt: storeBase.Add(time.Minute), Duration: 2345 * time.Microsecond,
		RequestHeader: http.Header{"X-Signature": {"t=1,v1=abc"}}, RequestBody: []byte{0xfe, 0x01},
		Status: 202, Header: http.Header{"X-App": {"yes"}}, Body: []byte{0xff}}
	if err := Wait(ctx, src.AddAttempt(resend)); err != nil {
		t.Fatal(err)
	}

	var buf bytes.Buffer
	n, err := src.Export(ctx, &buf, Query{})
	if err != nil || n != len(storeFixtures)+2 {
		t.Fatalf("export: %d, %v", n, err)
	}
	var ds []*Delivery
	if err := ReadRecords(bytes.NewReader(buf.Bytes()), func(d *Delivery) error { ds = append(ds, d); return nil }); err != nil {
		t.Fatal(err)
	}
	dst := openTestStore(t)
	st, err := dst.Import(ctx, ds)
	if err != nil {
		t.Fatal(err)
	}
	if st.Deliveries != n || st.Skipped != 0 || st.Attempts != 7 {
		t.Fatalf("first import: %+v", st)
	}
	// A second import adds nothing.
	st, err = dst.Import(ctx, ds)
	if err != nil || st.Deliveries != 0 || st.Skipped != n || st.Attempts != 0 {
		t.Fatalf("second import: %+v, %v", st, err)
	}

	for _, id := range []string{"dlv_a1", "dlv_a2", "dlv_b2", "dlv_c1", "dlv_binary", "dlv_empty"} {
		want, err := src.Get(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		got, err := dst.Get(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		normalize := func(d *Delivery) {
			d.Seq = 0
			for _, a := range d.History {
				a.ID = 0
			}
		}
		normalize(want)
		normalize(got)
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s changed in the round trip:\n got %+v\nwant %+v", id, got, want)
		}
		for i := range want.History {
			if !reflect.DeepEqual(got.History[i], want.History[i]) {
				t.Errorf("%s attempt %d:\n got %+v\nwant %+v", id, i, got.History[i], want.History[i])
			}
		}
	}
	// The export of the copy is the export of the original.
	var again bytes.Buffer
	if _, err := dst.Export(ctx, &again, Query{}); err != nil {
		t.Fatal(err)
	}
	if again.String() != buf.String() {
		t.Errorf("re-export differs:\n%s\n---\n%s", again.String(), buf.String())
	}
	if !strings.Contains(buf.String(), `"body_encoding":"base64"`) {
		t.Errorf("binary body not base64 in the export")
	}
	// The copy is searchable.
	if got, _ := dst.List(ctx, Query{Search: "Globex"}); len(got) != 1 {
		t.Errorf("imported delivery not indexed")
	}
}

func TestReadRecordsErrors(t *testing.T) {
	tests := map[string]string{
		"not json":     "nope\n",
		"no id":        `{"method":"POST","received_at":"2026-01-01T00:00:00Z"}`,
		"bad encoding": `{"id":"x","method":"POST","received_at":"2026-01-01T00:00:00Z","body":"x","body_encoding":"rot13"}`,
		"bad base64":   `{"id":"x","method":"POST","received_at":"2026-01-01T00:00:00Z","body":"!!","body_encoding":"base64"}`,
		"bad kind":     `{"id":"x","method":"POST","received_at":"2026-01-01T00:00:00Z","attempts":[{"kind":"poke","started_at":"2026-01-01T00:00:00Z"}]}`,
	}
	for name, in := range tests {
		t.Run(name, func(t *testing.T) {
			err := ReadRecords(strings.NewReader(in), func(*Delivery) error { return nil })
			if err == nil || !strings.HasPrefix(err.Error(), "line 1: ") {
				t.Fatalf("err = %v", err)
			}
		})
	}
}

func TestOpenErrors(t *testing.T) {
	dir := t.TempDir()
	if _, err := OpenExisting(t.Context(), filepath.Join(dir, "missing.db")); !errors.Is(err, ErrNoStore) {
		t.Errorf("missing: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "missing.db")); !os.IsNotExist(err) {
		t.Errorf("OpenExisting created the file")
	}
	bad := filepath.Join(dir, "bad.db")
	os.WriteFile(bad, bytes.Repeat([]byte("this is not sqlite "), 300), 0o600)
	_, err := OpenExisting(context.Background(), bad)
	if err == nil || !strings.Contains(err.Error(), "not a hooktap database or is corrupt") {
		t.Errorf("corrupt: %v", err)
	}
}

// queryPlan is the detail column of EXPLAIN QUERY PLAN for query.
func queryPlan(t *testing.T, db *sql.DB, query string, args ...any) []string {
	t.Helper()
	rows, err := db.QueryContext(t.Context(), `EXPLAIN QUERY PLAN `+query, args...)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var steps []string
	for rows.Next() {
		var id, parent, unused int
		var detail string
		if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
			t.Fatal(err)
		}
		steps = append(steps, detail)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return steps
}

// TestIndexChunkPlan pins the plan of the indexing statement: it must walk
// only the chunk's range of deliveries, never from the first one (which
// made indexing quadratic in the store's size).
func TestIndexChunkPlan(t *testing.T) {
	s := openTestStore(t)
	fillStore(t, s, storeFixtures)
	steps := queryPlan(t, s.search.W, indexChunkSQL, 0, 3) // on the index's writer, which has the store attached
	want := []string{"SEARCH d USING INTEGER PRIMARY KEY (rowid>? AND rowid<?)"}
	if !slices.Equal(steps, want) {
		t.Errorf("plan = %q, want %q", steps, want)
	}
}

// TestStatusFilterPlans: a page filtered by a code or "error" seeks the
// code's index, and one filtered by a class walks the class index, newest
// first, instead of scanning every delivery (or every delivery of a class,
// for a code that is not there).
func TestStatusFilterPlans(t *testing.T) {
	s := openTestStore(t)
	fillStore(t, s, storeFixtures)
	for status, index := range map[string]string{
		"404": "deliveries_status_code", "202": "deliveries_status_code", "error": "deliveries_status_code",
		"4xx": "deliveries_status_class",
	} {
		q := Query{Status: mustStatus(status)}
		where, args, err := q.where()
		if err != nil {
			t.Fatal(err)
		}
		steps := queryPlan(t, s.db.R, `SELECT `+qualifiedSummary+q.from()+where+` ORDER BY `+q.newestFirst()+` LIMIT 50`, args...)
		if len(steps) != 1 || !strings.Contains(steps[0], "USING INDEX "+index+" ") {
			t.Errorf("--status %s: plan %q, want one walk of %s", status, steps, index)
		}
	}
}

// TestSearchSameForEveryWritePath: a delivery indexed as it is imported
// and one indexed later from the queue (Insert, Record) are found by the
// same searches: body words, ids, emails and header values, but not the
// signature, date or length headers, nor a body that is not UTF-8 text.
func TestSearchSameForEveryWritePath(t *testing.T) {
	s := openTestStore(t)
	ctx := t.Context()
	mk := func(id string) *Delivery {
		return &Delivery{ID: id, ReceivedAt: storeBase, Method: "POST",
			Header: http.Header{"Content-Type": {"application/json"}, "X-Request-Id": {"req-" + id},
				"X-Monite-Signature": {"t=1,v1=sig" + id}, "Date": {"Sun, 22 Nov 2026 10:00:00 GMT"}, "Content-Length": {"991234"}},
			Body: []byte(`{"action":"payable.created","object":{"id":"9dcec3ad-077d-4c6c-88d0-4605312f8088","email":"ap@acme.example","note":"rent ` + id + `"}}`)}
	}
	imported, recorded, inserted := mk("imp1"), mk("rec1"), mk("ins1")
	binary := &Delivery{ID: "imp2", ReceivedAt: storeBase, Method: "POST", Body: []byte{0xff, 'n', 'e', 'e', 'd', 'l', 'e'}}
	if _, err := s.Import(ctx, []*Delivery{imported, binary}); err != nil {
		t.Fatal(err)
	}
	a := &Attempt{DeliveryID: "rec1", Kind: KindForward, Target: "http://app", StartedAt: storeBase, Status: 200}
	if err := Wait(ctx, s.Record(recorded, a)); err != nil {
		t.Fatal(err)
	}
	if err := Wait(ctx, s.Insert(inserted)); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		search string
		want   []string
	}{
		{"rent", []string{"ins1", "rec1", "imp1"}},
		{"payable.created", []string{"ins1", "rec1", "imp1"}},
		{"9dcec3ad-077d-4c6c-88d0-4605312f8088", []string{"ins1", "rec1", "imp1"}},
		{"ap@acme.example", []string{"ins1", "rec1", "imp1"}},
		{"application/json", []string{"ins1", "rec1", "imp1"}},
		{"req-imp1", []string{"imp1"}},
		{"rent rec1", []string{"rec1"}},
		{"sigimp1", nil},
		{"991234", nil},
		{"GMT", nil},
		{"needle", nil},
	}
	for _, tt := range tests {
		got, err := s.List(ctx, Query{Search: tt.search})
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(ids(got), tt.want) {
			t.Errorf("search %q = %v, want %v", tt.search, ids(got), tt.want)
		}
	}
}

// TestUpgradeFromEarlierSchema opens a store written by the migrations
// before 0005 (with deliveries indexed and queued): the upgrade applies,
// drops the code-only status index, moves the full-text index to its own
// file (with the wider merges), and every delivery is still found by search
// and by status, and deleted cleanly.
func TestUpgradeFromEarlierSchema(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "old.db")
	old := fstest.MapFS{}
	entries, err := fs.ReadDir(migrationFiles, "migrations")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.Name() < "0005" {
			b, _ := fs.ReadFile(migrationFiles, "migrations/"+e.Name())
			old["migrations/"+e.Name()] = &fstest.MapFile{Data: b}
		}
	}
	db, err := sqlitedb.Open(ctx, path, old, sqlitedb.Options{})
	if err != nil {
		t.Fatal(err)
	}
	w := sqlitedb.NewWriter(db.W, 16)
	for i, f := range storeFixtures[:4] {
		d := f.delivery()
		a := &Attempt{DeliveryID: d.ID, Kind: KindForward, Target: "http://app", StartedAt: d.ReceivedAt, Status: []int{200, 404, 500, 404}[i]}
		err := w.Do(ctx, func(tx *sqlitedb.Tx) error {
			// The columns of the schema then (header_raw came with 0009).
			res, err := tx.Exec(`INSERT INTO deliveries(id, channel, received_at, method, path, header, body,
					object_type, action, entity_id, object_id, status, attempts, target)
				VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1, ?)`,
				d.ID, d.Channel, d.ReceivedAt.UnixMicro(), d.Method, d.Path, marshalHeader(d.Header), d.Body,
				d.ObjectType, d.Action, d.EntityID, d.ObjectID, a.Status, a.Target)
			if err != nil {
				return err
			}
			seq, _ := res.LastInsertId()
			// As the store queued deliveries then.
			_, err = tx.Exec(`INSERT INTO fts_pending(seq, text) VALUES (?, 1)`, seq)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		if i == 1 { // the first two indexed, the others left queued
			if err := w.Do(ctx, func(tx *sqlitedb.Tx) error {
				_, err := tx.Exec(`INSERT INTO deliveries_fts(rowid, header_text, body_text)
					SELECT d.seq, CAST(d.header AS TEXT), CASE WHEN p.text THEN CAST(d.body AS TEXT) END
					FROM fts_pending p CROSS JOIN deliveries d ON d.seq = p.seq`)
				if err == nil {
					_, err = tx.Exec(`DELETE FROM fts_pending`)
				}
				return err
			}); err != nil {
				t.Fatal(err)
			}
		}
	}
	w.Close()
	db.Close()

	s, err := OpenExisting(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var version, statusIndexes int
	var automerge string
	if err := s.db.R.QueryRowContext(ctx, `SELECT MAX(version) FROM main.schema_migrations`).Scan(&version); err != nil || version < 6 {
		t.Fatalf("schema version %d, %v", version, err)
	}
	if err := s.db.R.QueryRowContext(ctx, `SELECT COUNT(*) FROM main.sqlite_schema WHERE name IN ('deliveries_status', 'deliveries_fts')`).Scan(&statusIndexes); err != nil || statusIndexes != 0 {
		t.Fatalf("deliveries_status or deliveries_fts still in the store (%d, %v)", statusIndexes, err)
	}
	if err := s.db.R.QueryRowContext(ctx, `SELECT v FROM search.deliveries_fts_config WHERE k = 'automerge'`).Scan(&automerge); err != nil || automerge != "32" {
		t.Fatalf("automerge = %q, %v", automerge, err)
	}
	for _, tt := range []struct {
		q    Query
		want []string
	}{
		{Query{Search: "Acme"}, []string{"dlv_a1"}},                      // indexed before the upgrade
		{Query{Search: "Globex"}, []string{"dlv_b2"}},                    // queued before the upgrade
		{Query{Search: "req-dlv_b1"}, []string{"dlv_b1"}},                // a header
		{Query{Status: mustStatus("404")}, []string{"dlv_b2", "dlv_a2"}}, // a code
		{Query{Status: mustStatus("5xx")}, []string{"dlv_b1"}},           // a class
		{Query{Status: mustStatus("500"), Search: "INV"}, []string{"dlv_b1"}},
	} {
		got, err := s.List(ctx, tt.q)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(ids(got), tt.want) {
			t.Errorf("List(%+v) = %v, want %v", tt.q, ids(got), tt.want)
		}
	}
	// Rows from before header_raw read their JSON header.
	if d, err := s.Get(ctx, "dlv_a1"); err != nil || d.Header.Get("X-Request-Id") != "req-dlv_a1" {
		t.Errorf("Get(dlv_a1) after the upgrade: %v, %v", d, err)
	}
	// Deleting still reaches the contentless index.
	if n, err := s.Prune(ctx, Retention{MaxDeliveries: 1}, storeBase); err != nil || n != 3 {
		t.Fatalf("prune: %d, %v", n, err)
	}
	if got, err := s.List(ctx, Query{Search: "Acme"}); err != nil || len(got) != 0 {
		t.Errorf("pruned delivery still found: %v, %v", ids(got), err)
	}
	if got, err := s.List(ctx, Query{Search: "Globex"}); err != nil || !slices.Equal(ids(got), []string{"dlv_b2"}) {
		t.Errorf("kept delivery: %v, %v", ids(got), err)
	}
}

// TestIndexFileBelongsToItsStore: the full-text index's file is rebuilt
// when it is missing, and emptied when it was left by another store at the
// same path (whose seqs would otherwise match the new store's deliveries).
func TestIndexFileBelongsToItsStore(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "s.db")
	removeDB := func(p string) {
		for _, suffix := range []string{"", "-wal", "-shm"} {
			if err := os.Remove(p + suffix); err != nil && !errors.Is(err, os.ErrNotExist) {
				t.Fatal(err)
			}
		}
	}
	search := func(s *Store, text string) []string {
		t.Helper()
		ds, err := s.List(ctx, Query{Search: text})
		if err != nil {
			t.Fatal(err)
		}
		return ids(ds)
	}
	s, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	if err := Wait(ctx, s.Insert(&Delivery{ID: "x1", ReceivedAt: storeBase, Method: "POST", Body: []byte(`{"note":"alpha"}`)})); err != nil {
		t.Fatal(err)
	}
	if got := search(s, "alpha"); !slices.Equal(got, []string{"x1"}) {
		t.Fatalf("alpha = %v", got)
	}
	s.Close()

	removeDB(path + "-search")
	if s, err = Open(ctx, path); err != nil {
		t.Fatal(err)
	}
	if got := search(s, "alpha"); !slices.Equal(got, []string{"x1"}) {
		t.Errorf("after the index file was deleted: alpha = %v, want [x1]", got)
	}
	s.Close()

	removeDB(path) // a new store where the old one was; its index file stays
	if s, err = Open(ctx, path); err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := Wait(ctx, s.Insert(&Delivery{ID: "y1", ReceivedAt: storeBase, Method: "POST", Body: []byte(`{"note":"beta"}`)})); err != nil {
		t.Fatal(err)
	}
	if got := search(s, "alpha"); len(got) != 0 {
		t.Errorf("the old store's index matched the new store: alpha = %v", got)
	}
	if got := search(s, "beta"); !slices.Equal(got, []string{"y1"}) {
		t.Errorf("beta = %v, want [y1]", got)
	}
}

// TestPruneThenReusedSeqs: pruning the newest deliveries lets SQLite give
// their seqs out again; the new deliveries are found by search, and the
// pruned ones are not.
func TestPruneThenReusedSeqs(t *testing.T) {
	ctx := t.Context()
	s := openTestStore(t)
	insert := func(id string, age time.Duration, word string) {
		t.Helper()
		d := &Delivery{ID: id, ReceivedAt: storeBase.Add(-age), Method: "POST", Body: []byte(`{"note":"` + word + `"}`)}
		if err := Wait(ctx, s.Insert(d)); err != nil {
			t.Fatal(err)
		}
	}
	search := func(text string) []string {
		t.Helper()
		ds, err := s.List(ctx, Query{Search: text})
		if err != nil {
			t.Fatal(err)
		}
		return ids(ds)
	}
	insert("keep", time.Minute, "alpha")                            // seq 1, recent
	insert("old", 48*time.Hour, "beta")                             // seq 2, the newest seq but old
	if got := search("beta"); !slices.Equal(got, []string{"old"}) { // indexed
		t.Fatalf("beta = %v", got)
	}
	if n, err := s.Prune(ctx, Retention{MaxAge: 24 * time.Hour}, storeBase); err != nil || n != 1 {
		t.Fatalf("prune: %d, %v", n, err)
	}
	insert("new", 0, "gamma") // seq 2 again
	for text, want := range map[string][]string{"alpha": {"keep"}, "beta": nil, "gamma": {"new"}} {
		if got := search(text); !slices.Equal(got, want) {
			t.Errorf("after pruning the newest: %s = %v, want %v", text, got, want)
		}
	}
	if n, err := s.Prune(ctx, Retention{MaxAge: time.Nanosecond}, storeBase.Add(time.Hour)); err != nil || n != 2 {
		t.Fatalf("prune all: %d, %v", n, err)
	}
	insert("fresh", 0, "delta") // seq 1 again
	for text, want := range map[string][]string{"alpha": nil, "gamma": nil, "delta": {"fresh"}} {
		if got := search(text); !slices.Equal(got, want) {
			t.Errorf("after pruning all: %s = %v, want %v", text, got, want)
		}
	}
}

// TestPruneReindexesWhatStays: pruning old deliveries that hold the newest
// seq lowers the index's watermark below a delivery that stays (indexed
// already). It is indexed again in place, not twice, and new deliveries
// after it are indexed as usual.
func TestPruneReindexesWhatStays(t *testing.T) {
	ctx := t.Context()
	s := openTestStore(t)
	insert := func(id string, age time.Duration, word string) {
		t.Helper()
		d := &Delivery{ID: id, ReceivedAt: storeBase.Add(-age), Method: "POST", Body: []byte(`{"note":"` + word + `"}`)}
		if err := Wait(ctx, s.Insert(d)); err != nil {
			t.Fatal(err)
		}
	}
	insert("a", time.Minute, "alpha")  // seq 1
	insert("b", 48*time.Hour, "beta")  // seq 2, old
	insert("c", time.Minute, "gamma")  // seq 3, stays: between the watermarks
	insert("d", 48*time.Hour, "delta") // seq 4, old and the newest
	if err := s.IndexNow(ctx); err != nil {
		t.Fatal(err)
	}
	if n, err := s.Prune(ctx, Retention{MaxAge: 24 * time.Hour}, storeBase); err != nil || n != 2 {
		t.Fatalf("prune: %d, %v", n, err)
	}
	insert("e", 0, "epsilon") // seq 4 again
	insert("f", 0, "gamma")   // seq 5
	if err := s.IndexNow(ctx); err != nil {
		t.Fatal(err)
	}
	for text, want := range map[string][]string{"alpha": {"a"}, "beta": nil, "gamma": {"f", "c"}, "delta": nil, "epsilon": {"e"}} {
		ds, err := s.List(ctx, Query{Search: text})
		if err != nil {
			t.Fatal(err)
		}
		if got := ids(ds); !slices.Equal(got, want) {
			t.Errorf("%s = %v, want %v", text, got, want)
		}
	}
	var gammas int64
	if err := s.sw.Do(ctx, func(tx *sqlitedb.Tx) error {
		if _, err := tx.Exec(`INSERT INTO deliveries_fts(deliveries_fts) VALUES ('integrity-check')`); err != nil {
			return err
		}
		// Merged into one segment, each delivery holding "gamma" counts once.
		if _, err := tx.Exec(`INSERT INTO deliveries_fts(deliveries_fts) VALUES ('optimize')`); err != nil {
			return err
		}
		if _, err := tx.Exec(`CREATE VIRTUAL TABLE temp.vocab USING fts5vocab(main, deliveries_fts, 'instance')`); err != nil {
			return err
		}
		if err := tx.QueryRow(`SELECT COUNT(*) FROM temp.vocab WHERE term = 'gamma'`).Scan(&gammas); err != nil {
			return err
		}
		_, err := tx.Exec(`DROP TABLE temp.vocab`)
		return err
	}); err != nil {
		t.Fatalf("index integrity: %v", err)
	}
	if gammas != 2 {
		t.Errorf("%d index entries for gamma, want 2 (one per delivery)", gammas)
	}
}

// TestRecordIsIndexedInTheBackground: what the agent records is indexed
// without waiting for a search (which would otherwise index everything the
// agent received since it started, while the user waits).
func TestRecordIsIndexedInTheBackground(t *testing.T) {
	ctx := t.Context()
	s := openTestStore(t)
	record := func(id string) {
		t.Helper()
		d := &Delivery{ID: id, ReceivedAt: storeBase, Method: "POST", Body: []byte(`{"note":"zeta"}`)}
		a := &Attempt{DeliveryID: id, Kind: KindForward, StartedAt: storeBase, Status: 200, Target: "http://127.0.0.1:3000/"}
		if err := Wait(ctx, s.Record(d, a)); err != nil {
			t.Fatal(err)
		}
	}
	// No signal marks the end of background work: poll, with a bound.
	indexedThrough := func(seq int64) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for {
			var through int64
			if err := s.db.R.QueryRowContext(ctx, `SELECT through FROM search.indexed`).Scan(&through); err != nil {
				t.Fatal(err)
			}
			if through >= seq {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("delivery %d was not indexed in the background", seq)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	record("rec1") // may ride on the pass the store makes when it opens
	indexedThrough(1)
	record("rec2")
	indexedThrough(2)
}

// mustStatus is a status filter a test spells out.
func mustStatus(s string) Status {
	st, err := ParseStatus(s)
	if err != nil {
		panic(err)
	}
	return st
}

// TestReadRecordsErrorLine: an error names the line the bad record starts
// on, past blank lines and records written over several lines.
func TestReadRecordsErrorLine(t *testing.T) {
	good := `{"id":"a","method":"POST","received_at":"2026-01-01T00:00:00Z"}`
	tests := map[string]struct {
		in   string
		line int
	}{
		"after blank lines":     {"\n\n" + good + "\n\n" + `{"id":"b","method":"POST; x","received_at":"2026-01-01T00:00:00Z"}` + "\n", 5},
		"after a long record":   {"{\n \"id\": \"a\",\n \"method\": \"POST\",\n \"received_at\": \"2026-01-01T00:00:00Z\"\n}\n" + `{"id":"b"}`, 6},
		"spread over lines":     {good + "\n{\n\"id\":\"b\",\n\"method\":\"GET\\r\"\n}\n", 2},
		"not json after blanks": {good + "\n\n\n  nope\n", 4},
		"on the first line":     {`{"id":"b","method":"POST","received_at":"2026-01-01T00:00:00Z","headers":{"X":["a\nb"]}}`, 1},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			err := ReadRecords(strings.NewReader(tt.in), func(*Delivery) error { return nil })
			if want := fmt.Sprintf("line %d: ", tt.line); err == nil || !strings.HasPrefix(err.Error(), want) {
				t.Fatalf("err = %v, want it to start with %q", err, want)
			}
		})
	}
}
