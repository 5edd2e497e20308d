package store

import (
	"bufio"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/hooktap/hooktap/relay/sqlitedb"
)

// fullColumns are the summary columns plus what Get adds.
var fullColumns = qualifiedSummary + ", d.header, d.header_raw, d.body, d.remote_addr, d.host, d.proto"

// scanFull reads a row of fullColumns (Get selects the same, unqualified).
func scanFull(r scanner) (*Delivery, error) {
	var hdr, raw, body []byte
	var remote, host, proto string
	d, err := scanSummary(r, &hdr, &raw, &body, &remote, &host, &proto)
	if err != nil {
		return nil, err
	}
	d.Header, d.Body, d.RemoteAddr, d.Host, d.Proto = loadHeader(hdr, raw), body, remote, host, proto
	if d.Header == nil {
		d.Header = http.Header{}
	}
	return d, nil
}

// Each calls fn with every delivery q selects (with q.Limit > 0, the newest
// q.Limit of them), oldest first, with headers, body and attempts. It reads
// in pages, so a long export does not hold one read transaction open. A
// Progress in ctx hears of each delivery.
func (s *Store) Each(ctx context.Context, q Query, fn func(*Delivery) error) error {
	where, args, err := q.where()
	if err != nil {
		return err
	}
	if err := s.searchable(ctx, q); err != nil {
		return err
	}
	var after int64
	progress, total := progressOf(ctx), int64(0)
	if hasProgress(ctx) {
		if total, err = s.CountMatching(ctx, q); err != nil {
			return err
		}
		if q.Limit > 0 {
			total = min(total, int64(q.Limit))
		}
		progress(0, total)
	}
	var done int64
	if q.Limit > 0 {
		var oldest sql.NullInt64
		err := s.db.R.QueryRowContext(ctx, `SELECT MIN(seq) FROM (SELECT d.seq AS seq`+q.from()+where+` ORDER BY `+q.newestFirst()+` LIMIT ?)`,
			append(args[:len(args):len(args)], q.Limit)...).Scan(&oldest)
		if err != nil {
			return fmt.Errorf("read deliveries: %w", err)
		}
		if !oldest.Valid {
			return nil // nothing matches
		}
		after = oldest.Int64 - 1
	}
	if where == "" {
		where = " WHERE d.seq > ?"
	} else {
		where += " AND d.seq > ?"
	}
	const page = 500
	for {
		rows, err := s.db.R.QueryContext(ctx, `SELECT `+fullColumns+q.from()+where+` ORDER BY d.seq LIMIT ?`,
			append(args[:len(args):len(args)], after, page)...)
		if err != nil {
			return fmt.Errorf("read deliveries: %w", err)
		}
		var ds []*Delivery
		for rows.Next() {
			d, err := scanFull(rows)
			if err != nil {
				rows.Close()
				return fmt.Errorf("read deliveries: %w", err)
			}
			ds = append(ds, d)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return fmt.Errorf("read deliveries: %w", err)
		}
		if len(ds) == 0 {
			return nil
		}
		for _, d := range ds {
			if d.History, err = s.attempts(ctx, d.Seq, d.ID); err != nil {
				return err
			}
			if err := fn(d); err != nil {
				return err
			}
			done++
			progress(done, total)
		}
		after = ds[len(ds)-1].Seq
	}
}

// Export writes the deliveries q selects as JSON lines (see Record) and
// returns how many it wrote.
func (s *Store) Export(ctx context.Context, w io.Writer, q Query) (int, error) {
	bw := bufio.NewWriter(w)
	enc := json.NewEncoder(bw)
	enc.SetEscapeHTML(false)
	n := 0
	err := s.Each(ctx, q, func(d *Delivery) error {
		n++
		return enc.Encode(NewRecord(d))
	})
	if err != nil {
		return n, err
	}
	return n, bw.Flush()
}

// ImportStats says what an import did.
type ImportStats struct {
	Deliveries int // new deliveries stored
	Attempts   int // new attempts stored
	Skipped    int // deliveries already in the store
}

// ErrHAR is what ReadRecords says of a HAR file: it has lost what a
// delivery is (its channel, its arrival, the relay's id), so it is not
// imported as one.
var ErrHAR = errors.New("this is a HAR file; hooktap imports its own JSON lines (hooktap events export --format json)")

// ReadRecords decodes an export, calling fn for each record. It stops at the
// first malformed record with an error that names its line, and at once
// with ErrHAR when the input is a HAR log.
func ReadRecords(r io.Reader, fn func(*Delivery) error) error {
	lc := &lineCounter{r: r}
	dec := json.NewDecoder(bufio.NewReaderSize(lc, 1<<16))
	for n := 1; ; n++ {
		prev := dec.InputOffset()
		var line json.RawMessage
		if err := dec.Decode(&line); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			// Decode did not move past the bad value: it starts after
			// the blank bytes that follow the previous one.
			return fmt.Errorf("line %d: %w", lc.lineAt(prev)+leadingNewlines(dec.Buffered()), err)
		}
		if n == 1 && isHAR(line) {
			return ErrHAR
		}
		d, err := decodeRecord(line)
		if err != nil {
			return fmt.Errorf("line %d: %w", lc.lineAt(dec.InputOffset()-int64(len(line))), err)
		}
		if err := fn(d); err != nil {
			return err
		}
	}
}

// lineCounter notes where the newlines it reads are, so that a byte offset
// can be told as a line number (the decoder reads ahead of the record it
// returns). Offsets must be asked in increasing order.
type lineCounter struct {
	r      io.Reader
	pos    int64
	ahead  []int64 // offsets of newlines read but not yet counted
	passed int     // newlines before the last offset asked
}

func (c *lineCounter) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	for i, b := range p[:n] {
		if b == '\n' {
			c.ahead = append(c.ahead, c.pos+int64(i))
		}
	}
	c.pos += int64(n)
	return n, err
}

// lineAt is the line (from 1) that the byte at off is on.
func (c *lineCounter) lineAt(off int64) int {
	i := 0
	for i < len(c.ahead) && c.ahead[i] < off {
		i++
	}
	c.passed += i
	c.ahead = append(c.ahead[:0], c.ahead[i:]...)
	return c.passed + 1
}

// leadingNewlines counts the newlines in the blank bytes r starts with.
func leadingNewlines(r io.Reader) int {
	b, _ := io.ReadAll(r) // the decoder's buffer: in memory
	n := 0
	for _, c := range b {
		switch c {
		case '\n':
			n++
		case ' ', '\t', '\r':
		default:
			return n
		}
	}
	return n
}

// isHAR reports whether a JSON value is a HAR document: {"log": {"entries": ...}}.
func isHAR(v json.RawMessage) bool {
	var doc struct {
		Log *struct {
			Entries json.RawMessage `json:"entries"`
		} `json:"log"`
	}
	return json.Unmarshal(v, &doc) == nil && doc.Log != nil && doc.Log.Entries != nil
}

// importBatch is how many deliveries one import write holds: one op of the
// writer (which commits many ops together) for many rows.
const importBatch = 256

// Import stores deliveries with their attempts. It is idempotent by id: a
// delivery already stored is kept, and an attempt it already has (same
// kind, target and start) is not added again. Deliveries are written in
// batches through the store's writer; a batch that fails is not written.
// When ctx ends it submits no more batches but still waits for those it
// submitted (the writer commits them anyway), so that the stats it returns
// with ctx's error are what the store holds.
func (s *Store) Import(ctx context.Context, ds []*Delivery) (ImportStats, error) {
	type batch struct {
		done <-chan error
		st   *ImportStats
	}
	var pending []batch
	for len(ds) > 0 && ctx.Err() == nil {
		chunk := ds[:min(importBatch, len(ds))]
		ds = ds[len(chunk):]
		hdrs := make([]storedHeader, len(chunk))
		for i, d := range chunk {
			hdrs[i] = storeHeader(d.Header)
		}
		st := &ImportStats{}
		done := s.w.Go(func(tx *sqlitedb.Tx) error {
			*st = ImportStats{}
			for i, d := range chunk {
				var isNew bool
				var added int
				if err := importDelivery(tx, d, hdrs[i], &isNew, &added); err != nil {
					return fmt.Errorf("delivery %s: %w", d.ID, err)
				}
				if isNew {
					st.Deliveries++
				} else {
					st.Skipped++
				}
				st.Attempts += added
			}
			return nil
		})
		s.kickIndex()
		pending = append(pending, batch{done, st})
	}
	var total ImportStats
	var errs []error
	for _, p := range pending {
		if err := <-p.done; err != nil {
			errs = append(errs, err)
			continue
		}
		total.Deliveries += p.st.Deliveries
		total.Skipped += p.st.Skipped
		total.Attempts += p.st.Attempts
	}
	if len(errs) > 0 {
		return total, fmt.Errorf("import: %w", errors.Join(errs...))
	}
	if len(ds) > 0 {
		return total, ctx.Err()
	}
	return total, nil
}

func importDelivery(tx *sqlitedb.Tx, d *Delivery, hdr storedHeader, isNew *bool, added *int) error {
	// A new delivery is written with its summary and attempts at once; a
	// known one gets only the attempts it lacks.
	c := *d
	seq, inserted, err := insertDeliveryRow(tx, &c, hdr, d.History)
	if err != nil {
		return err
	}
	if inserted {
		*isNew = true
		for _, a := range d.History {
			ac := *a
			if err := insertAttemptRow(tx, seq, &ac, storeRequestHeader(a.RequestHeader), storeHeader(a.Header)); err != nil {
				return err
			}
			*added++
		}
		return nil
	}
	if err := tx.QueryRow(`SELECT seq FROM deliveries WHERE id = ?`, d.ID).Scan(&seq); err != nil {
		return err
	}
	for _, a := range d.History {
		var one int
		err := tx.QueryRow(`SELECT 1 FROM attempts WHERE delivery_seq = ? AND kind = ? AND target = ? AND started_at = ?`,
			seq, a.Kind, a.Target, a.StartedAt.UnixMicro()).Scan(&one)
		if err == nil {
			continue // imported before
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		c := *a
		if err := insertAttempt(tx, &c, storeRequestHeader(a.RequestHeader), storeHeader(a.Header)); err != nil {
			return err
		}
		*added++
	}
	return nil
}
