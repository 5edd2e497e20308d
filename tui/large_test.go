package tui

import (
	"context"
	"database/sql"
	"strings"
	"testing"
	"time"

	"github.com/hooktap/hooktap/inspector/store"
)

// TestLargeStore loads 100,000 deliveries and checks that the first page
// renders and that paging walks the store a page at a time. Render time is
// logged here; its budget is checked by make bench (tui.Render).
func TestLargeStore(t *testing.T) {
	const n = 100_000
	s := openStore(t)
	seedBulk(t, s, n)
	opts := testOptions(s)

	start := time.Now()
	screen, err := Render(t.Context(), opts, 100, 30, "")
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("first page of %d rows rendered in %s", n, time.Since(start))
	if !strings.Contains(screen, "▸ Mar 15") || strings.Count(screen, "payable.created") != 26 {
		t.Fatalf("first page:\n%s", screen)
	}
	start = time.Now()
	if _, err := Render(t.Context(), opts, 100, 30, "dlv_050000"); err != nil {
		t.Fatal(err)
	}
	t.Logf("detail view rendered in %s", time.Since(start))

	m := newSized(t, opts)
	rows := m.list.rows()
	for p := 1; p <= 50; p++ {
		send(t, m, keyMsg("pgdown"))
		want := n - 1 - p*rows
		if len(m.list.page) != rows || m.list.page[0].Seq != int64(want+1) {
			t.Fatalf("page %d: %d rows from seq %d, want %d", p, len(m.list.page), m.list.page[0].Seq, want+1)
		}
	}
	for range 50 {
		send(t, m, keyMsg("pgup"))
	}
	if m.list.top != 0 || m.list.page[0].ID != "dlv_099999" {
		t.Fatalf("back at the top: top %d, first %s", m.list.top, m.list.page[0].ID)
	}
}

// seedBulk adds n deliveries, forwarded once, in one statement: the
// store's per-row path is too slow under the race detector for 100k rows.
// The store must be open (its schema in place).
func seedBulk(tb testing.TB, s *store.Store, n int) {
	tb.Helper()
	db, err := sql.Open("sqlite", s.Path()+"?_pragma=busy_timeout(5000)")
	if err != nil {
		tb.Fatal(err)
	}
	defer db.Close()
	_, err = db.ExecContext(context.Background(), `WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i+1 FROM n WHERE i < ?)
		INSERT INTO deliveries(id, channel, received_at, method, path, query, header, body, object_type, action,
			entity_id, object_id, event_id, signature, status, duration_us, attempts, target)
		SELECT printf('dlv_%06d', i), 'dev', ? + i*1000000, 'POST', '/billing', 'src=test',
			'{"Content-Type":["application/json"]}',
			printf('{"id":"evt_%06d","object_type":"payable","action":"payable.created","object":{"id":"obj_%06d"}}', i, i),
			'payable', 'payable.created', printf('ent_%04d', i % 7), printf('obj_%06d', i), printf('evt_%06d', i),
			'unsigned', 200, 1300 + (i % 50) * 1000, 1, 'http://127.0.0.1:9/webhooks'
		FROM n`, n-1, base.UnixMicro())
	if err != nil {
		tb.Fatal(err)
	}
}
