package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/hooktap/hooktap/relay/sqlitedb"
)

// Query selects deliveries, newest first. Zero fields do not filter.
type Query struct {
	ObjectType string    // exact
	Action     string    // glob: "payable.*"
	EntityID   string    // exact
	Status     Status    // the latest attempt's outcome; zero: any
	Since      time.Time // received at or after
	Search     string    // full text over bodies and headers
	Before     int64     // only deliveries older than this seq (paging)
	After      int64     // only deliveries newer than this seq (recorded since)
	Limit      int       // default 50
}

// Status selects deliveries by their latest attempt: a class ("2xx"), a
// code ("404"), "error" (the app gave no answer) or "pending" (not
// forwarded yet). The zero Status selects all. Make one with ParseStatus;
// as a flag.Value it checks what the user typed at once.
type Status struct {
	name  string // normalized: "2xx", "404", "error", "pending"; "" for any
	class int    // 1-5 for a class
	code  int    // 100-999 for a code
}

// ParseStatus reads a status filter ("" is any).
func ParseStatus(s string) (Status, error) {
	s = strings.ToLower(strings.TrimSpace(s))
	switch s {
	case "":
		return Status{}, nil
	case "error", "err":
		return Status{name: "error"}, nil
	case "pending":
		return Status{name: "pending"}, nil
	case "1xx", "2xx", "3xx", "4xx", "5xx":
		return Status{name: s, class: int(s[0] - '0')}, nil
	}
	code, err := strconv.Atoi(s)
	if err != nil || code < 100 || code > 999 {
		return Status{}, fmt.Errorf("bad status %q: use 2xx, 4xx, 5xx, error, pending or a code like 404", s)
	}
	return Status{name: strconv.Itoa(code), code: code}, nil
}

// String is the status as ParseStatus reads it back.
func (st Status) String() string { return st.name }

// IsZero reports whether st selects every delivery.
func (st Status) IsZero() bool { return st.name == "" }

// Set implements flag.Value.
func (st *Status) Set(s string) error {
	v, err := ParseStatus(s)
	if err == nil {
		*st = v
	}
	return err
}

// clause is st's condition on deliveries, written as the indexes it
// should use are: deliveries_status_class for a class (an equality keeps
// the newest-first page an index walk), deliveries_status_code for a code.
func (st Status) clause() (string, []any) {
	switch {
	case st.class != 0:
		return "status / 100 = ?", []any{st.class}
	case st.code != 0:
		return "status = ?", []any{st.code}
	case st.name == "error":
		return "status = 0 AND attempts > 0", nil
	case st.name == "pending":
		return "attempts = 0", nil
	}
	return "", nil
}

// where builds the WHERE clause of q, for deliveries joined (when q
// searches) to deliveries_fts.
func (q Query) where() (string, []any, error) {
	var conds []string
	var args []any
	add := func(c string, a ...any) {
		conds = append(conds, c)
		args = append(args, a...)
	}
	if q.Search != "" {
		if m := MatchExpr(q.Search); m != "" {
			add("deliveries_fts MATCH ?", m)
		}
	}
	if q.ObjectType != "" {
		add("object_type = ?", q.ObjectType)
	}
	if q.Action != "" {
		if strings.ContainsAny(q.Action, "*?[") {
			add("action GLOB ?", q.Action)
		} else {
			add("action = ?", q.Action)
		}
	}
	if q.EntityID != "" {
		add("entity_id = ?", q.EntityID)
	}
	if c, a := q.Status.clause(); c != "" {
		add(c, a...)
	}
	if !q.Since.IsZero() {
		add("received_at >= ?", q.Since.UnixMicro())
	}
	if q.Before > 0 {
		add("d.seq < ?", q.Before)
	}
	if q.After > 0 {
		add("d.seq > ?", q.After)
	}
	if len(conds) == 0 {
		return "", nil, nil
	}
	return " WHERE " + strings.Join(conds, " AND "), args, nil
}

// from is the FROM clause of q. A search walks the full-text index newest
// first (FTS5 serves ORDER BY rowid DESC) and joins each match to its row,
// so the first page costs what it shows, not every match.
func (q Query) from() string {
	if q.Search != "" && MatchExpr(q.Search) != "" {
		return " FROM deliveries_fts CROSS JOIN deliveries d ON d.seq = deliveries_fts.rowid"
	}
	return " FROM deliveries d"
}

// newestFirst orders q's rows newest first. A search orders by the index's
// rowid (the delivery's seq): FTS5 then walks its matches newest first and
// the query stops at the page's end, instead of sorting every match.
func (q Query) newestFirst() string {
	if q.Search != "" && MatchExpr(q.Search) != "" {
		return "deliveries_fts.rowid DESC"
	}
	return "d.seq DESC"
}

// MatchExpr turns search text into an FTS5 query: every word must occur,
// words are matched as phrases of tokens (so "payable.created" or a UUID
// match as typed), and the last word also matches as a prefix when it is
// three characters or more. It returns "" when the text has no word.
func MatchExpr(text string) string {
	var terms []string
	words := strings.Fields(text)
	for i, w := range words {
		if !strings.ContainsFunc(w, func(r rune) bool { return unicode.IsLetter(r) || unicode.IsDigit(r) }) {
			continue
		}
		t := `"` + strings.ReplaceAll(w, `"`, `""`) + `"`
		if i == len(words)-1 && utf8.RuneCountInString(w) >= 3 {
			t += "*"
		}
		terms = append(terms, t)
	}
	return strings.Join(terms, " AND ")
}

// List returns the deliveries q selects, newest first, without headers,
// bodies or attempts.
func (s *Store) List(ctx context.Context, q Query) ([]*Delivery, error) {
	where, args, err := q.where()
	if err != nil {
		return nil, err
	}
	if err := s.searchable(ctx, q); err != nil {
		return nil, err
	}
	limit := q.Limit
	if limit <= 0 {
		limit = 50
	}
	rows, err := s.db.R.QueryContext(ctx, `SELECT `+qualifiedSummary+q.from()+where+` ORDER BY `+q.newestFirst()+` LIMIT ?`,
		append(args, limit)...)
	if err != nil {
		return nil, fmt.Errorf("list deliveries: %w", err)
	}
	defer rows.Close()
	var out []*Delivery
	for rows.Next() {
		d, err := scanSummary(rows)
		if err != nil {
			return nil, fmt.Errorf("list deliveries: %w", err)
		}
		out = append(out, d)
	}
	return out, rows.Err()
}

// CountMatching is the number of deliveries q selects, ignoring its limit.
func (s *Store) CountMatching(ctx context.Context, q Query) (int64, error) {
	where, args, err := q.where()
	if err != nil {
		return 0, err
	}
	if err := s.searchable(ctx, q); err != nil {
		return 0, err
	}
	var n int64
	if err := s.db.R.QueryRowContext(ctx, `SELECT COUNT(*)`+q.from()+where, args...).Scan(&n); err != nil {
		return 0, fmt.Errorf("count deliveries: %w", err)
	}
	return n, nil
}

// qualifiedSummary is summaryColumns read from deliveries d.
var qualifiedSummary = "d." + strings.Join(strings.Fields(strings.ReplaceAll(summaryColumns, ",", " ")), ", d.")

// searchable makes sure that a search sees every delivery stored before it.
func (s *Store) searchable(ctx context.Context, q Query) error {
	if q.Search == "" {
		return nil
	}
	if s.readOnly {
		if s.search == nil {
			return errors.New("search: the store is read-only and has no full-text index (" + s.db.Path + "-search) to search")
		}
		return nil // what was indexed is all there is
	}
	var pending bool
	err := s.db.R.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM deliveries WHERE seq > (SELECT through FROM search.indexed))`).Scan(&pending)
	if err != nil {
		return fmt.Errorf("search: %w", err)
	}
	if !pending {
		return nil
	}
	return s.indexPending(ctx)
}

// IndexNow adds every delivery stored so far to the full-text index, which
// otherwise happens in the background shortly after it is stored (and
// before any search).
func (s *Store) IndexNow(ctx context.Context) error {
	if s.readOnly {
		return nil // the index cannot be written: searches see what it holds
	}
	return s.indexPending(ctx)
}

// indexChunk is how many deliveries one indexing write adds to the
// full-text index.
const indexChunk = 4000

// indexedHeaders is the header text the full-text index gets: every header
// but signatures, dates and lengths. Their values are unique to each
// delivery (an HMAC, a timestamp) and nobody searches for them, but each
// would add terms to the index's dictionary, which is most of its cost.
const indexedHeaders = `json_remove(d.header, '$."Monite-Signature"', '$."X-Monite-Signature"', '$."Stripe-Signature"',
	'$."X-Monk-Signature"', '$."Webhook-Signature"', '$."Webhook-Timestamp"', '$."Date"', '$."Content-Length"')`

// indexChunkSQL indexes the deliveries with seq in (?, ?], run by the
// index's writer, which has the store attached read-only as "store": their
// headers, and their bodies when they are UTF-8 text. OR REPLACE: Prune
// may lower the watermark below deliveries indexed already.
const indexChunkSQL = `INSERT OR REPLACE INTO deliveries_fts(rowid, header_text, body_text)
	SELECT d.seq, ` + indexedHeaders + `, CASE WHEN hooktap_text(d.body) THEN CAST(d.body AS TEXT) END
	FROM store.deliveries d WHERE d.seq > ? AND d.seq <= ?`

// indexPending indexes every delivery past the index's watermark, in
// chunks, through the index's writer, moving the watermark in the same
// transaction.
func (s *Store) indexPending(ctx context.Context) error {
	s.indexMu.Lock()
	defer s.indexMu.Unlock()
	progress, done, total := progressOf(ctx), int64(0), int64(0)
	if hasProgress(ctx) {
		err := s.db.R.QueryRowContext(ctx, `SELECT COUNT(*) FROM deliveries WHERE seq > (SELECT through FROM search.indexed)`).Scan(&total)
		if err != nil {
			return fmt.Errorf("index deliveries: %w", err)
		}
		progress(0, total)
	}
	for {
		var n int64
		err := s.sw.Do(ctx, func(tx *sqlitedb.Tx) error {
			var from int64
			var last sql.NullInt64
			if err := tx.QueryRow(`SELECT through FROM indexed`).Scan(&from); err != nil {
				return err
			}
			err := tx.QueryRow(`SELECT MAX(seq), COUNT(*) FROM (SELECT seq FROM store.deliveries WHERE seq > ? ORDER BY seq LIMIT ?)`,
				from, indexChunk).Scan(&last, &n)
			if err != nil || n == 0 {
				return err
			}
			if _, err := tx.Exec(indexChunkSQL, from, last.Int64); err != nil {
				return err
			}
			_, err = tx.Exec(`UPDATE indexed SET through = ?`, last.Int64)
			return err
		})
		if err != nil {
			return fmt.Errorf("index deliveries: %w", err)
		}
		done += n
		progress(done, max(total, done))
		if n < indexChunk {
			return nil
		}
	}
}

// indexDelay is how long the indexer lets new deliveries gather.
const indexDelay = time.Second

// Backoff between indexing passes after one failed (a full disk), when no
// new delivery asks for one sooner.
const (
	indexRetryMin = 2 * time.Second
	indexRetryMax = time.Minute
)

// indexLoop indexes new deliveries shortly after they are inserted, so
// that a search rarely has to, until stop is closed. A pass that fails is
// tried again later; the store's writes never wait for the index.
func (s *Store) indexLoop(kick <-chan struct{}, stop <-chan struct{}, done chan<- struct{}) {
	defer close(done)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		select {
		case <-stop:
			cancel()
		case <-ctx.Done():
		}
	}()
	var retry <-chan time.Time // set while failing
	backoff := indexRetryMin
	var failingSince time.Time
	for {
		select {
		case <-stop:
			return
		case <-kick:
		case <-retry:
		}
		// Let a burst gather into large chunks: FTS5 writes a segment per
		// transaction and merges them later, so fewer, larger passes cost
		// less per delivery (the agent's CPU per delivery at 32 in flight:
		// 137-146 us at 200 ms, 123-130 us at a second). A search never
		// waits for this: it indexes what is left first.
		select {
		case <-stop:
			return
		case <-time.After(indexDelay):
		}
		err := s.indexPending(ctx)
		switch {
		case err != nil && ctx.Err() != nil:
			return
		case err != nil:
			if failingSince.IsZero() {
				failingSince = time.Now()
				s.logger().Error("the full-text index cannot write: indexing is retried, recording goes on",
					"db", s.Path()+"-search", "err", err)
			}
			retry = time.After(backoff)
			backoff = min(backoff*2, indexRetryMax)
		case !failingSince.IsZero():
			s.logger().Warn("the full-text index writes again", "after", time.Since(failingSince).Round(time.Second))
			failingSince, retry, backoff = time.Time{}, nil, indexRetryMin
		}
	}
}
