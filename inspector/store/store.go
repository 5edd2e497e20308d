package store

import (
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"database/sql/driver"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"modernc.org/sqlite"

	"github.com/hooktap/hooktap/inspector/signing"
	"github.com/hooktap/hooktap/relay/sqlitedb"
	"github.com/hooktap/hooktap/relay/wire"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// searchFiles holds the migrations of the full-text index's own file.
//
//go:embed searchdb/migrations/*.sql
var searchFiles embed.FS

// Errors callers branch on.
var (
	ErrNotFound  = errors.New("no such delivery")
	ErrAmbiguous = errors.New("ambiguous delivery id")
	ErrNoStore   = sqlitedb.ErrNotExist
)

// Store is the agent's SQLite database of deliveries and attempts. Writes go
// through one batching writer; reads run in parallel.
type Store struct {
	db *sqlitedb.DB
	w  *sqlitedb.Writer

	// The full-text index lives in a file of its own (path + "-search")
	// with its own writer, so that indexing runs beside the store's writes.
	// Its writer reads the store (attached read-only as "store"); the
	// store's readers read it (attached as "search").
	search *sqlitedb.DB
	sw     *sqlitedb.Writer

	// indexMu is held while indexing and while pruning, so that a delivery
	// is never indexed after its index entries were deleted.
	indexMu sync.Mutex

	// The indexer: Insert, Record and Import kick it, Close stops it.
	kick      chan struct{}
	stopIndex chan struct{}
	indexDone chan struct{}

	log atomic.Pointer[slog.Logger] // see SetLogger

	// readOnly: opened with OpenReadOnly; nothing is written, not even the
	// full-text index (nil when its file is missing).
	readOnly bool
}

// Open opens or creates the store at path.
func Open(ctx context.Context, path string) (*Store, error) {
	return open(ctx, path, sqlitedb.Options{CheckpointPages: checkpointPages, CacheKiB: storeCacheKiB, ReaderCacheKiB: readerCacheKiB})
}

// Page caches, within the agent's memory target (64 MiB resident while
// receiving, with a million deliveries stored and the full-text index
// kept up to date in the background). The SQLite linked in (modernc,
// built with SQLITE_ENABLE_MEMORY_MANAGEMENT) keeps one page cache for the
// process, bounded by the sum of cache_size over every schema of every
// connection: the writers, the busiest, grow into the share of idle
// readers. And each KiB of it costs about 2 KiB resident (modernc's
// allocator puts each page, 4 KiB and its header, in an 8 KiB slot). The
// store's writer keeps the most (its inserts touch index pages all over a
// large store); readers and the index's writer, which mostly reads back
// the pages it has just written, keep little: the OS caches the files.
// An attached file's cache is set where it is attached (SQLite's default
// would be 2,000 KiB): the index's writer reads each new delivery of the
// store once (attachedCacheKiB); readers keep searchReadCacheKiB of the
// index, as a search of two common words reads long lists of its pages.
// At 1M stored, agent resident after receiving 33,500 deliveries / median
// of that search, runs taking turns: readers' index at 500 KiB 59.9-60.3
// MiB / 217 ms; at 1,000 KiB 61.3-61.6 MiB / 148 ms; at 2,000 KiB
// 62.3-63.2 MiB / ~109 ms (before: every attachment at SQLite's default
// and readers at 2,000 KiB, 67.0-67.4 MiB). 1,000 keeps the 64 MiB target
// with room to spare and search well inside its 200 ms.
const (
	storeCacheKiB      = 8000
	readerCacheKiB     = 1000
	searchCacheKiB     = 1000
	attachedCacheKiB   = 500
	searchReadCacheKiB = 1000
)

// pageCacheBudgetKiB is the sum of the above over every connection of a
// store: the bound of its share of the process's page cache
// (TestPageCacheBudget). The writer, four readers with the index attached,
// the index's writer with the store attached, its one reader.
const pageCacheBudgetKiB = storeCacheKiB + 4*(readerCacheKiB+searchReadCacheKiB) + searchCacheKiB + attachedCacheKiB + searchCacheKiB

// checkpointPages is the store's WAL size at which a commit checkpoints:
// 64 MiB, as an import's transaction alone writes more than 16 MiB (the
// default), and the full-text index rewrites its newest pages in every
// chunk (1M-delivery ingest 13.9-15.3k -> 16.5k deliveries/s).
const checkpointPages = 16000

// OpenExisting opens the store at path and fails if there is none, for
// commands that only read.
func OpenExisting(ctx context.Context, path string) (*Store, error) {
	return open(ctx, path, sqlitedb.Options{MustExist: true, CheckpointPages: checkpointPages, CacheKiB: storeCacheKiB, ReaderCacheKiB: readerCacheKiB})
}

// OpenReadOnly opens the store at path for reading only (see
// sqlitedb.Options.ReadOnly), for commands that only read a store that
// cannot be written: on a read-only disk, or another user's. Writes fail;
// searches see what the full-text index held already, and fail when it is
// missing.
func OpenReadOnly(ctx context.Context, path string) (*Store, error) {
	searchPath := path + "-search"
	db, err := sqlitedb.Open(ctx, path, migrationFiles, sqlitedb.Options{ReadOnly: true, CacheKiB: storeCacheKiB, ReaderCacheKiB: readerCacheKiB,
		Attach: []sqlitedb.Attachment{{Schema: "search", Path: searchPath, Readers: true, CacheKiB: searchReadCacheKiB}}})
	if err != nil {
		return nil, err
	}
	s := &Store{db: db, w: sqlitedb.NewWriter(db.W, 16), readOnly: true, stopIndex: make(chan struct{}), indexDone: make(chan struct{})}
	close(s.indexDone) // no indexer
	sfs, _ := fs.Sub(searchFiles, "searchdb")
	if _, err := os.Stat(searchPath); err == nil {
		if s.search, err = sqlitedb.Open(ctx, searchPath, sfs, sqlitedb.Options{ReadOnly: true, Readers: 1, CacheKiB: searchCacheKiB}); err != nil {
			s.w.Close()
			db.Close()
			return nil, fmt.Errorf("search index: %w", err)
		}
		s.sw = sqlitedb.NewWriter(s.search.W, 16)
	}
	return s, nil
}

// ReadOnly reports whether the store was opened with OpenReadOnly.
func (s *Store) ReadOnly() bool { return s.readOnly }

// recordLinger is how long the store's writer holds a commit open for the
// records of deliveries being forwarded (Expect). Measured in make bench's
// rounds at 32 in flight against the writer's default of 500 µs, two agents
// taking turns on one relay: 3 ms gave 10% and 3% more deliveries per
// second (two runs; 2 ms 11%, one run), 3-5% less agent CPU per delivery
// and a lower p50, as commits grew from about 10 deliveries to 12. A lone
// delivery waits for nothing: with none on the way the writer commits at
// once.
const recordLinger = 3 * time.Millisecond

func open(ctx context.Context, path string, o sqlitedb.Options) (*Store, error) {
	searchPath := path + "-search"
	o.Attach = []sqlitedb.Attachment{{Schema: "search", Path: searchPath, Readers: true, CacheKiB: searchReadCacheKiB}}
	db, err := sqlitedb.Open(ctx, path, migrationFiles, o)
	if err != nil {
		return nil, err
	}
	// The index is derived data: created when missing, even for a store
	// that must exist. Its readers are never used (the store's read it).
	sfs, _ := fs.Sub(searchFiles, "searchdb")
	search, err := sqlitedb.Open(ctx, searchPath, sfs, sqlitedb.Options{Readers: 1, CheckpointPages: checkpointPages, CacheKiB: searchCacheKiB,
		Attach: []sqlitedb.Attachment{{Schema: "store", Path: path, Writer: true, CacheKiB: attachedCacheKiB}}})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("search index: %w", err)
	}
	s := &Store{db: db, w: sqlitedb.NewWriter(db.W, 1024), search: search, sw: sqlitedb.NewWriter(search.W, 16),
		kick: make(chan struct{}, 1), stopIndex: make(chan struct{}), indexDone: make(chan struct{})}
	s.w.SetLinger(recordLinger)
	if err := s.claimIndex(ctx); err != nil {
		s.w.Close()
		s.sw.Close()
		search.Close()
		db.Close()
		return nil, fmt.Errorf("search index: %w", err)
	}
	go s.indexLoop(s.kick, s.stopIndex, s.indexDone)
	s.kickIndex() // what an earlier process left unindexed
	return s, nil
}

// claimIndex makes sure that the index file belongs to this store: a new
// one (a new store, an upgrade from migration 0005 or older, a deleted
// file), or one left by another store at the same path, is emptied and
// indexing starts over from the first delivery.
func (s *Store) claimIndex(ctx context.Context) error {
	id, err := s.Meta(ctx, "search_id", rand.Text)
	if err != nil {
		return err
	}
	return s.sw.Do(ctx, func(tx *sqlitedb.Tx) error {
		var owner string
		err := tx.QueryRow(`SELECT id FROM owner`).Scan(&owner)
		if err == nil && owner == id {
			return nil
		}
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		for _, q := range []string{`INSERT INTO deliveries_fts(deliveries_fts) VALUES ('delete-all')`,
			`UPDATE indexed SET through = 0`, `DELETE FROM owner`} {
			if _, err := tx.Exec(q); err != nil {
				return err
			}
		}
		_, err = tx.Exec(`INSERT INTO owner(id) VALUES (?)`, id)
		return err
	})
}

// utf8Text is the SQL function hooktap_text(body): whether a body is
// indexed as text (it is not empty and is UTF-8).
func utf8Text(_ *sqlite.FunctionContext, args []driver.Value) (driver.Value, error) {
	switch b := args[0].(type) {
	case []byte:
		return len(b) > 0 && utf8.Valid(b), nil
	case string:
		return len(b) > 0 && utf8.ValidString(b), nil
	}
	return false, nil
}

func init() { sqlite.MustRegisterDeterministicScalarFunction("hooktap_text", 1, utf8Text) }

func (s *Store) kickIndex() {
	select {
	case s.kick <- struct{}{}:
	default:
	}
}

// Expect tells the store's writer that n more writes (n < 0: fewer) are on
// their way, so that it commits them together (sqlitedb.Writer.Expect).
func (s *Store) Expect(n int) { s.w.Expect(n) }

// Close flushes pending writes and closes the database. Deliveries not yet
// in the full-text index are indexed after the next open.
func (s *Store) Close() error {
	close(s.stopIndex)
	<-s.indexDone
	s.w.Close()
	if s.search == nil { // read-only, with no index
		return s.db.Close()
	}
	s.sw.Close()
	return errors.Join(s.search.Close(), s.db.Close())
}

// SetLogger sets where the store reports trouble that it deals with on its
// own (the full-text index failing to write); by default nowhere.
func (s *Store) SetLogger(l *slog.Logger) { s.log.Store(l) }

func (s *Store) logger() *slog.Logger {
	if l := s.log.Load(); l != nil {
		return l
	}
	return slog.New(slog.DiscardHandler)
}

// Reclaim checkpoints the write-ahead logs of the store and of its index
// into their files, truncates them, and keeps them small from then on. A
// log grows to 64 MiB between checkpoints (checkpointPages), so on a full
// disk that is where the room is: a write that failed for want of space
// may succeed after this. And a log allowed to grow into whatever space
// comes back would fill the disk again, with no room left to checkpoint
// it: once short of space, the store checkpoints every 1 MiB.
func (s *Store) Reclaim(ctx context.Context) error {
	var errs []error
	for _, db := range []*sql.DB{s.db.W, s.search.W} {
		_, err := db.ExecContext(ctx, `PRAGMA main.wal_checkpoint(TRUNCATE)`)
		errs = append(errs, err)
		_, err = db.ExecContext(ctx, `PRAGMA wal_autocheckpoint = `+strconv.Itoa(tightCheckpointPages))
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// tightCheckpointPages is the write-ahead log's size at which a commit
// checkpoints once the disk was found full: 1 MiB.
const tightCheckpointPages = 256

// Path is the database file.
func (s *Store) Path() string { return s.db.Path }

// Meta returns a stored setting, creating it with init() when missing.
func (s *Store) Meta(ctx context.Context, key string, init func() string) (string, error) {
	var v string
	err := s.db.R.QueryRowContext(ctx, `SELECT value FROM meta WHERE key = ?`, key).Scan(&v)
	if err == nil || !errors.Is(err, sql.ErrNoRows) || init == nil {
		return v, err
	}
	v = init()
	err = s.w.Do(ctx, func(tx *sqlitedb.Tx) error {
		_, err := tx.Exec(`INSERT INTO meta(key, value) VALUES (?, ?) ON CONFLICT(key) DO NOTHING`, key, v)
		if err != nil {
			return err
		}
		return tx.QueryRow(`SELECT value FROM meta WHERE key = ?`, key).Scan(&v)
	})
	return v, err
}

// AgentID is this store's stable identity towards relays, and the key
// that proves it: relays bind the id to the key on first use. The key
// never leaves the store but in a hello to a relay.
func (s *Store) AgentID(ctx context.Context) (id, key string, err error) {
	id, err = s.Meta(ctx, "agent_id", func() string { return "agt_" + strings.ToLower(rand.Text()) })
	if err != nil {
		return "", "", err
	}
	key, err = s.Meta(ctx, "agent_key", rand.Text) // 130 random bits
	return id, key, err
}

// storedHeader is a header as the store keeps it: JSON (what the full-text
// index and people read) and, only when JSON cannot hold it exactly
// because some key or value is not UTF-8, its bytes in wire's binary
// header encoding (migration 0009). A nil json is NULL: for an attempt's
// request header, "the delivery's own".
type storedHeader struct{ json, raw []byte }

func storeHeader(h http.Header) storedHeader {
	sh := storedHeader{json: marshalHeader(h)}
	if mayBeLossy(sh.json) && !headerUTF8(h) {
		sh.raw = wire.AppendHeader(nil, h)
	}
	return sh
}

// mayBeLossy is false when the JSON of a header certainly kept it exactly:
// encoding/json writes each byte that is not UTF-8 as U+FFFD (escaped, or
// raw), so JSON without one is exact. Searching the JSON costs a tenth of
// walking the header (0.05 against 0.5 us for a typical webhook's), which
// is what the common case pays; a U+FFFD the sender really sent only costs
// that walk too.
func mayBeLossy(js []byte) bool {
	return bytes.Contains(js, []byte(`\ufffd`)) || bytes.Contains(js, []byte("\ufffd"))
}

// storeRequestHeader is storeHeader, except that nil stays NULL.
func storeRequestHeader(h http.Header) storedHeader {
	if h == nil {
		return storedHeader{}
	}
	return storeHeader(h)
}

// rawArg is the raw column's value: NULL unless the JSON is lossy.
func (sh storedHeader) rawArg() any {
	if sh.raw == nil {
		return nil
	}
	return sh.raw
}

func headerUTF8(h http.Header) bool {
	for k, vs := range h {
		if !utf8.ValidString(k) {
			return false
		}
		for _, v := range vs {
			if !utf8.ValidString(v) {
				return false
			}
		}
	}
	return true
}

func marshalHeader(h http.Header) []byte {
	if h == nil {
		return []byte("{}")
	}
	b, _ := json.Marshal(h)
	return b
}

// loadHeader reads a header's columns back: the exact bytes when there
// are any, else the JSON (nil when NULL).
func loadHeader(js, raw []byte) http.Header {
	if raw != nil {
		if h, err := wire.DecodeHeader(raw); err == nil {
			if h == nil {
				h = http.Header{}
			}
			return h
		}
	}
	if js == nil {
		return nil
	}
	h := http.Header{}
	_ = json.Unmarshal(js, &h)
	return h
}

// Insert stores d unless a delivery with its id exists (redelivery is
// idempotent). The channel receives the result once it is committed.
func (s *Store) Insert(d *Delivery) <-chan error {
	hdr := storeHeader(d.Header)
	done := s.w.Go(func(tx *sqlitedb.Tx) error {
		return insertDelivery(tx, d, hdr)
	})
	s.kickIndex()
	return done
}

func insertDelivery(tx *sqlitedb.Tx, d *Delivery, hdr storedHeader) error {
	_, _, err := insertDeliveryRow(tx, d, hdr, nil)
	return err
}

// insertDeliveryRow inserts d with history as its attempts so far (none
// for a delivery not forwarded yet), the summary columns made from them as
// Delivery.Apply makes them; the index's writer finds it past its
// watermark. It reports the row's seq and false when d's id is stored
// already.
func insertDeliveryRow(tx *sqlitedb.Tx, d *Delivery, hdr storedHeader, history []*Attempt) (int64, bool, error) {
	if d.Signature == "" {
		d.Signature = signing.Unsigned
	}
	sum := Delivery{}
	var status, duration any // NULL until forwarded
	for _, a := range history {
		if Ties(sum.Target, a) {
			status, duration = a.Status, a.Duration.Microseconds()
		}
		sum.Apply(a)
	}
	ew := sum.Elsewhere
	if ew == nil {
		ew = &Elsewhere{}
	}
	res, err := tx.Exec(`INSERT INTO deliveries(id, channel, relay_seq, received_at, method, path, query, header, header_raw, body,
			remote_addr, host, proto, object_type, action, entity_id, object_id, event_id, scheme, signature, signature_reason,
			status, error, duration_us, attempts, target, elsewhere_kind, elsewhere_target, elsewhere_status, elsewhere_error)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT(id) DO NOTHING`,
		d.ID, d.Channel, d.RelaySeq, d.ReceivedAt.UnixMicro(), d.Method, d.Path, d.Query, hdr.json, hdr.rawArg(), d.Body,
		d.RemoteAddr, d.Host, d.Proto, d.ObjectType, d.Action, d.EntityID, d.ObjectID, d.EventID,
		d.Scheme, d.Signature, d.SignatureReason,
		status, sum.Error, duration, sum.Attempts, sum.Target, ew.Kind, ew.Target, ew.Status, ew.Error)
	if err != nil {
		return 0, false, err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return 0, false, nil // already stored
	}
	seq, err := res.LastInsertId()
	if err != nil {
		return 0, false, err
	}
	return seq, true, nil
}

// insertAttemptRow inserts a as an attempt of the delivery row seq, without
// touching the delivery's summary.
func insertAttemptRow(tx *sqlitedb.Tx, seq int64, a *Attempt, reqHdr, respHdr storedHeader) error {
	res, err := tx.Exec(`INSERT INTO attempts(delivery_seq, kind, target, started_at, duration_us, request_header, request_header_raw,
			request_body, status, response_header, response_header_raw, response_body, error)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		seq, a.Kind, a.Target, a.StartedAt.UnixMicro(), a.Duration.Microseconds(), reqHdr.json, reqHdr.rawArg(),
		a.RequestBody, a.Status, respHdr.json, respHdr.rawArg(), a.Body, a.Error)
	if err != nil {
		return err
	}
	a.ID, _ = res.LastInsertId()
	return nil
}

// AddAttempt records an attempt of the delivery a.DeliveryID and makes it
// the delivery's latest, or its Elsewhere when it went to another target
// (see Ties). The channel receives the result once committed.
func (s *Store) AddAttempt(a *Attempt) <-chan error {
	reqHdr, respHdr := storeRequestHeader(a.RequestHeader), storeHeader(a.Header)
	return s.w.Go(func(tx *sqlitedb.Tx) error {
		return insertAttempt(tx, a, reqHdr, respHdr)
	})
}

func insertAttempt(tx *sqlitedb.Tx, a *Attempt, reqHdr, respHdr storedHeader) error {
	var seq int64
	var target string
	if err := tx.QueryRow(`SELECT seq, target FROM deliveries WHERE id = ?`, a.DeliveryID).Scan(&seq, &target); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("%w: %s", ErrNotFound, a.DeliveryID)
		}
		return err
	}
	if err := insertAttemptRow(tx, seq, a, reqHdr, respHdr); err != nil {
		return err
	}
	if !Ties(target, a) {
		_, err := tx.Exec(`UPDATE deliveries SET attempts = attempts + 1, elsewhere_kind = ?, elsewhere_target = ?,
			elsewhere_status = ?, elsewhere_error = ? WHERE seq = ?`, a.Kind, a.Target, a.Status, a.Error, seq)
		return err
	}
	_, err := tx.Exec(`UPDATE deliveries SET status = ?, error = ?, duration_us = ?, attempts = attempts + 1, target = ? WHERE seq = ?`,
		a.Status, a.Error, a.Duration.Microseconds(), a.Target, seq)
	return err
}

// Record stores d together with its first attempt a, in one write: the
// agent's path for an app that answers quickly. If d is stored already (a
// redelivery), a is added to it as with AddAttempt.
func (s *Store) Record(d *Delivery, a *Attempt) <-chan error {
	hdr, reqHdr, respHdr := storeHeader(d.Header), storeRequestHeader(a.RequestHeader), storeHeader(a.Header)
	done := s.w.Go(func(tx *sqlitedb.Tx) error {
		seq, inserted, err := insertDeliveryRow(tx, d, hdr, []*Attempt{a})
		if err != nil {
			return err
		}
		if !inserted {
			return insertAttempt(tx, a, reqHdr, respHdr) // stored before: one more attempt
		}
		return insertAttemptRow(tx, seq, a, reqHdr, respHdr)
	})
	s.kickIndex()
	return done
}

// Wait waits for a write submitted with Insert, AddAttempt or Record.
func Wait(ctx context.Context, done <-chan error) error {
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

const summaryColumns = `seq, id, channel, relay_seq, received_at, method, path, query, object_type, action, entity_id, object_id,
	event_id, scheme, signature, signature_reason, status, error, duration_us, attempts, target,
	elsewhere_kind, elsewhere_target, elsewhere_status, elsewhere_error`

type scanner interface{ Scan(...any) error }

func scanSummary(r scanner, extra ...any) (*Delivery, error) {
	d := &Delivery{}
	var us int64
	var status, dur sql.NullInt64
	var ew Elsewhere
	dest := []any{&d.Seq, &d.ID, &d.Channel, &d.RelaySeq, &us, &d.Method, &d.Path, &d.Query, &d.ObjectType,
		&d.Action, &d.EntityID, &d.ObjectID, &d.EventID, &d.Scheme, &d.Signature, &d.SignatureReason,
		&status, &d.Error, &dur, &d.Attempts, &d.Target, &ew.Kind, &ew.Target, &ew.Status, &ew.Error}
	if err := r.Scan(append(dest, extra...)...); err != nil {
		return nil, err
	}
	if ew.Kind != "" {
		d.Elsewhere = &ew
	}
	d.ReceivedAt = time.UnixMicro(us).UTC()
	d.Status = int(status.Int64)
	d.DurationMS = float64(dur.Int64) / 1000
	return d, nil
}

// Get returns the delivery whose id is id or starts with id (a unique
// prefix is enough, like git), with its headers, body and every attempt.
func (s *Store) Get(ctx context.Context, id string) (*Delivery, error) {
	id = strings.TrimSpace(id)
	if id == "" {
		return nil, fmt.Errorf("%w: empty id", ErrNotFound)
	}
	rows, err := s.db.R.QueryContext(ctx, `SELECT `+summaryColumns+`, header, header_raw, body, remote_addr, host, proto
		FROM deliveries WHERE id >= ? AND id < ? ORDER BY id LIMIT 2`, id, id+"\U0010FFFF")
	if err != nil {
		return nil, fmt.Errorf("read delivery: %w", err)
	}
	var found []*Delivery
	for rows.Next() {
		d, err := scanFull(rows)
		if err != nil {
			rows.Close()
			return nil, fmt.Errorf("read delivery: %w", err)
		}
		found = append(found, d)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read delivery: %w", err)
	}
	switch {
	case len(found) == 0:
		return nil, fmt.Errorf("%w: %s", ErrNotFound, id)
	case len(found) > 1 && found[0].ID != id:
		return nil, fmt.Errorf("%w: %s matches %s, %s and more", ErrAmbiguous, id, found[0].ID, found[1].ID)
	}
	d := found[0]
	d.History, err = s.attempts(ctx, d.Seq, d.ID)
	return d, err
}

func (s *Store) attempts(ctx context.Context, seq int64, id string) ([]*Attempt, error) {
	rows, err := s.db.R.QueryContext(ctx, `SELECT id, kind, target, started_at, duration_us, request_header, request_header_raw,
		request_body, status, response_header, response_header_raw, response_body, error
		FROM attempts WHERE delivery_seq = ? ORDER BY id`, seq)
	if err != nil {
		return nil, fmt.Errorf("read attempts: %w", err)
	}
	defer rows.Close()
	var out []*Attempt
	for rows.Next() {
		a := &Attempt{DeliveryID: id}
		var started, dur int64
		var reqHdr, reqRaw, respHdr, respRaw []byte
		if err := rows.Scan(&a.ID, &a.Kind, &a.Target, &started, &dur, &reqHdr, &reqRaw, &a.RequestBody,
			&a.Status, &respHdr, &respRaw, &a.Body, &a.Error); err != nil {
			return nil, fmt.Errorf("read attempts: %w", err)
		}
		a.StartedAt = time.UnixMicro(started).UTC()
		a.Duration = time.Duration(dur) * time.Microsecond
		a.RequestHeader = loadHeader(reqHdr, reqRaw)
		a.Header = loadHeader(respHdr, respRaw)
		out = append(out, a)
	}
	return out, rows.Err()
}

// Count is the number of stored deliveries.
func (s *Store) Count(ctx context.Context) (int64, error) {
	var n int64
	err := s.db.R.QueryRowContext(ctx, `SELECT COUNT(*) FROM deliveries`).Scan(&n)
	return n, err
}
