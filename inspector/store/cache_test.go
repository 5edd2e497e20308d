package store

import (
	"database/sql"
	"fmt"
	"strings"
	"testing"
)

// TestPageCacheBudget: the SQLite linked into hooktap (modernc.org/sqlite,
// built with SQLITE_ENABLE_MEMORY_MANAGEMENT) keeps one page cache for the
// whole process, bounded by the sum of cache_size over every schema of
// every connection, and the writers, the busiest, grow into the share of
// idle connections. Each KiB of it costs about 2 KiB of resident memory
// (modernc's allocator puts each 4.2 KiB page in an 8 KiB slot). So every
// schema of every connection counts, attached ones included, which get
// SQLite's default of 2,000 KiB unless told otherwise: with all of the
// store's connections open, the sum was 28,000 KiB (a bound of about 56 MiB
// resident for the page cache alone, against the agent's 64 MiB target).
func TestPageCacheBudget(t *testing.T) {
	const budgetKiB = pageCacheBudgetKiB
	s := openTestStore(t)
	total := 0
	for _, p := range []struct {
		name  string
		db    *sql.DB
		conns int
	}{{"store writer", s.db.W, 1}, {"store readers", s.db.R, 4}, {"index writer", s.search.W, 1}, {"index readers", s.search.R, 1}} {
		for _, kib := range cacheKiBOfEach(t, p.db, p.conns) {
			t.Logf("%s: %s", p.name, kib.name)
			total += kib.kib
		}
	}
	if total > budgetKiB {
		t.Fatalf("page caches of all the store's connections add up to %d KiB, over the budget of %d KiB", total, budgetKiB)
	}
}

type schemaCache struct {
	name string
	kib  int
}

// cacheKiBOfEach opens n connections of db at once (so that the pool
// cannot hand the same one back) and reads the cache_size of each schema
// attached to each, in KiB.
func cacheKiBOfEach(t *testing.T, db *sql.DB, n int) []schemaCache {
	t.Helper()
	var out []schemaCache
	for i := range n {
		c, err := db.Conn(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		rows, err := c.QueryContext(t.Context(), `SELECT name FROM pragma_database_list WHERE name != 'temp'`)
		if err != nil {
			t.Fatal(err)
		}
		var schemas []string
		for rows.Next() {
			var name string
			if err := rows.Scan(&name); err != nil {
				t.Fatal(err)
			}
			schemas = append(schemas, name)
		}
		rows.Close()
		for _, name := range schemas {
			var size, pageSize int
			if err := c.QueryRowContext(t.Context(), `PRAGMA "`+name+`".cache_size`).Scan(&size); err != nil {
				t.Fatal(err)
			}
			if err := c.QueryRowContext(t.Context(), `PRAGMA "`+name+`".page_size`).Scan(&pageSize); err != nil {
				t.Fatal(err)
			}
			kib := -size // negative: KiB; positive: pages
			if size > 0 {
				kib = size * pageSize / 1024
			}
			out = append(out, schemaCache{fmt.Sprintf("conn %d %s %d KiB", i, strings.TrimSpace(name), kib), kib})
		}
	}
	return out
}
