package store

import (
	"bufio"
	"context"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/hooktap/hooktap/relay/sqlitedb"
)

// Record is one delivery in hooktap's own export format: JSON lines, one
// delivery per line with every attempt, oldest first. Bodies are UTF-8
// strings, or base64 with "body_encoding": "base64" when they are not
// UTF-8; an absent body is NULL in the store, "" is an empty one. A header
// whose values are not all UTF-8 (HTTP allows other bytes) is written under
// header_base64 instead of header, every value of it in base64, so that
// its bytes survive JSON. The latest-attempt summary (status, error, ...)
// is not written: import rebuilds it from the attempts.
type Record struct {
	ID              string          `json:"id"`
	Channel         string          `json:"channel,omitempty"`
	RelaySeq        int64           `json:"relay_seq,omitempty"`
	ReceivedAt      time.Time       `json:"received_at"`
	Method          string          `json:"method"`
	Path            string          `json:"path"`
	Query           string          `json:"query,omitempty"`
	Header          http.Header     `json:"header"`
	HeaderBase64    http.Header     `json:"header_base64,omitempty"`
	Body            *string         `json:"body,omitempty"`
	BodyEncoding    string          `json:"body_encoding,omitempty"`
	RemoteAddr      string          `json:"remote_addr,omitempty"`
	Host            string          `json:"host,omitempty"`
	Proto           string          `json:"proto,omitempty"`
	ObjectType      string          `json:"object_type"`
	Action          string          `json:"action"`
	EntityID        string          `json:"entity_id"`
	ObjectID        string          `json:"object_id"`
	EventID         string          `json:"event_id,omitempty"`
	Scheme          string          `json:"scheme,omitempty"`
	Signature       string          `json:"signature"`
	SignatureReason string          `json:"signature_reason,omitempty"`
	Attempts        []RecordAttempt `json:"attempts"`
}

// RecordAttempt is one attempt in a Record. RequestHeader and RequestBody
// are absent when the attempt sent the delivery as stored.
type RecordAttempt struct {
	Kind                string       `json:"kind"`
	Target              string       `json:"target"`
	StartedAt           time.Time    `json:"started_at"`
	DurationUS          int64        `json:"duration_us"`
	RequestHeader       *http.Header `json:"request_header,omitempty"`
	RequestHeaderBase64 http.Header  `json:"request_header_base64,omitempty"`
	RequestBody         *string      `json:"request_body,omitempty"`
	RequestBodyEncoding string       `json:"request_body_encoding,omitempty"`
	Status              int          `json:"status"`
	Header              http.Header  `json:"header"`
	HeaderBase64        http.Header  `json:"header_base64,omitempty"`
	Body                *string      `json:"body,omitempty"`
	BodyEncoding        string       `json:"body_encoding,omitempty"`
	Error               string       `json:"error,omitempty"`
}

func encodeBody(b []byte) (*string, string) {
	if b == nil {
		return nil, ""
	}
	if utf8.Valid(b) {
		s := string(b)
		return &s, ""
	}
	s := base64.StdEncoding.EncodeToString(b)
	return &s, "base64"
}

func decodeBody(s *string, enc, what string) ([]byte, error) {
	if s == nil {
		return nil, nil
	}
	switch enc {
	case "":
		return []byte(*s), nil
	case "base64":
		b, err := base64.StdEncoding.DecodeString(*s)
		if err != nil {
			return nil, fmt.Errorf("%s: bad base64: %w", what, err)
		}
		return b, nil
	}
	return nil, fmt.Errorf("%s: unknown encoding %q (want base64 or none)", what, enc)
}

// encodeHeader splits h into the headers JSON holds as they are and, in
// base64, those with a value that is not UTF-8 (nil when there are none,
// the common case, which costs no copy). Names stay as they are: HTTP
// makes them tokens, which are ASCII.
func encodeHeader(h http.Header) (plain, b64 http.Header) {
	if headerUTF8(h) {
		return h, nil
	}
	plain, b64 = http.Header{}, http.Header{}
	for k, vs := range h {
		if !valuesUTF8(vs) {
			enc := make([]string, len(vs))
			for i, v := range vs {
				enc[i] = base64.StdEncoding.EncodeToString([]byte(v))
			}
			b64[k] = enc
		} else {
			plain[k] = vs
		}
	}
	return plain, b64
}

func valuesUTF8(vs []string) bool {
	for _, v := range vs {
		if !utf8.ValidString(v) {
			return false
		}
	}
	return true
}

// decodeHeader joins what encodeHeader split.
func decodeHeader(plain, b64 http.Header, what string) (http.Header, error) {
	if len(b64) == 0 {
		return plain, nil
	}
	h := plain.Clone()
	if h == nil {
		h = http.Header{}
	}
	for k, vs := range b64 {
		if _, ok := plain[k]; ok {
			return nil, fmt.Errorf("%s: %q is in both the header and its base64 form", what, k)
		}
		dec := make([]string, len(vs))
		for i, v := range vs {
			b, err := base64.StdEncoding.DecodeString(v)
			if err != nil {
				return nil, fmt.Errorf("%s %q: bad base64: %w", what, k, err)
			}
			dec[i] = string(b)
		}
		h[k] = dec
	}
	return h, nil
}

// NewRecord turns a full delivery (from Get or Each) into its export form.
func NewRecord(d *Delivery) *Record {
	r := &Record{
		ID: d.ID, Channel: d.Channel, RelaySeq: d.RelaySeq, ReceivedAt: d.ReceivedAt.UTC(), Method: d.Method,
		Path: d.Path, Query: d.Query, RemoteAddr: d.RemoteAddr, Host: d.Host, Proto: d.Proto,
		ObjectType: d.ObjectType, Action: d.Action, EntityID: d.EntityID, ObjectID: d.ObjectID, EventID: d.EventID,
		Scheme: d.Scheme, Signature: d.Signature, SignatureReason: d.SignatureReason,
		Attempts: []RecordAttempt{},
	}
	r.Header, r.HeaderBase64 = encodeHeader(d.Header)
	if r.Header == nil {
		r.Header = http.Header{}
	}
	r.Body, r.BodyEncoding = encodeBody(d.Body)
	for _, a := range d.History {
		ra := RecordAttempt{
			Kind: a.Kind, Target: a.Target, StartedAt: a.StartedAt.UTC(), DurationUS: a.Duration.Microseconds(),
			Status: a.Status, Error: a.Error,
		}
		ra.Header, ra.HeaderBase64 = encodeHeader(a.Header)
		if a.RequestHeader != nil {
			h, b64 := encodeHeader(a.RequestHeader)
			ra.RequestHeader, ra.RequestHeaderBase64 = &h, b64
		}
		if ra.Header == nil {
			ra.Header = http.Header{}
		}
		ra.RequestBody, ra.RequestBodyEncoding = encodeBody(a.RequestBody)
		ra.Body, ra.BodyEncoding = encodeBody(a.Body)
		r.Attempts = append(r.Attempts, ra)
	}
	return r
}

// Delivery turns a record back into a delivery with its history, checking
// what import needs.
func (r *Record) Delivery() (*Delivery, error) {
	if strings.TrimSpace(r.ID) == "" {
		return nil, errors.New("delivery without an id")
	}
	if r.Method == "" || r.ReceivedAt.IsZero() {
		return nil, fmt.Errorf("delivery %s: method and received_at are required", r.ID)
	}
	body, err := decodeBody(r.Body, r.BodyEncoding, "delivery "+r.ID+" body")
	if err != nil {
		return nil, err
	}
	header, err := decodeHeader(r.Header, r.HeaderBase64, "delivery "+r.ID+" header")
	if err != nil {
		return nil, err
	}
	d := &Delivery{
		ID: r.ID, Channel: r.Channel, RelaySeq: r.RelaySeq, ReceivedAt: r.ReceivedAt.UTC(), Method: r.Method,
		Path: r.Path, Query: r.Query, Header: header, Body: body, RemoteAddr: r.RemoteAddr, Host: r.Host,
		Proto: r.Proto, ObjectType: r.ObjectType, Action: r.Action, EntityID: r.EntityID, ObjectID: r.ObjectID,
		EventID: r.EventID, Scheme: r.Scheme, Signature: r.Signature, SignatureReason: r.SignatureReason,
	}
	for i, ra := range r.Attempts {
		switch ra.Kind {
		case KindForward, KindReplay, KindResend:
		default:
			return nil, fmt.Errorf("delivery %s attempt %d: unknown kind %q", r.ID, i+1, ra.Kind)
		}
		if ra.StartedAt.IsZero() {
			return nil, fmt.Errorf("delivery %s attempt %d: started_at is required", r.ID, i+1)
		}
		a := &Attempt{
			DeliveryID: r.ID, Kind: ra.Kind, Target: ra.Target, StartedAt: ra.StartedAt.UTC(),
			Duration: time.Duration(ra.DurationUS) * time.Microsecond, Status: ra.Status, Error: ra.Error,
		}
		what := fmt.Sprintf("delivery %s attempt %d", r.ID, i+1)
		if a.Header, err = decodeHeader(ra.Header, ra.HeaderBase64, what+" header"); err != nil {
			return nil, err
		}
		if ra.RequestHeader != nil || ra.RequestHeaderBase64 != nil {
			var plain http.Header
			if ra.RequestHeader != nil {
				plain = *ra.RequestHeader
			}
			if a.RequestHeader, err = decodeHeader(plain, ra.RequestHeaderBase64, what+" request header"); err != nil {
				return nil, err
			}
			if a.RequestHeader == nil {
				a.RequestHeader = http.Header{}
			}
		}
		if a.RequestBody, err = decodeBody(ra.RequestBody, ra.RequestBodyEncoding, what+" request body"); err != nil {
			return nil, err
		}
		if a.Body, err = decodeBody(ra.Body, ra.BodyEncoding, what+" body"); err != nil {
			return nil, err
		}
		d.History = append(d.History, a)
	}
	return d, nil
}

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
// in pages, so a long export does not hold one read transaction open.
func (s *Store) Each(ctx context.Context, q Query, fn func(*Delivery) error) error {
	where, args, err := q.where()
	if err != nil {
		return err
	}
	if err := s.searchable(ctx, q); err != nil {
		return err
	}
	var after int64
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

// ReadRecords decodes an export, calling fn for each record. It stops at the
// first malformed record with an error that names its line.
func ReadRecords(r io.Reader, fn func(*Delivery) error) error {
	dec := json.NewDecoder(bufio.NewReaderSize(r, 1<<16))
	for n := 1; ; n++ {
		var rec Record
		if err := dec.Decode(&rec); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return fmt.Errorf("record %d: %w", n, err)
		}
		d, err := rec.Delivery()
		if err != nil {
			return fmt.Errorf("record %d: %w", n, err)
		}
		if err := fn(d); err != nil {
			return err
		}
	}
}

// importBatch is how many deliveries one import write holds: one op of the
// writer (which commits many ops together) for many rows.
const importBatch = 256

// Import stores deliveries with their attempts. It is idempotent by id: a
// delivery already stored is kept, and an attempt it already has (same
// kind, target and start) is not added again. Deliveries are written in
// batches through the store's writer; a batch that fails is not written.
func (s *Store) Import(ctx context.Context, ds []*Delivery) (ImportStats, error) {
	type batch struct {
		done <-chan error
		st   *ImportStats
	}
	var pending []batch
	for len(ds) > 0 {
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
		if err := Wait(ctx, p.done); err != nil {
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
	return total, nil
}

func importDelivery(tx *sqlitedb.Tx, d *Delivery, hdr storedHeader, isNew *bool, added *int) error {
	// A new delivery is written with its summary and attempts at once; a
	// known one gets only the attempts it lacks.
	var last *Attempt
	if n := len(d.History); n > 0 {
		last = d.History[n-1]
	}
	c := *d
	seq, inserted, err := insertDeliveryRow(tx, &c, hdr, last, len(d.History))
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
