package relay

import (
	"context"
	"database/sql"
	"embed"
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/hooktap/hooktap/relay/sqlitedb"
	"github.com/hooktap/hooktap/relay/wire"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// Buffer keeps every accepted delivery on disk, per channel and in order,
// until its retention ends, and remembers how far each agent has acked.
type Buffer struct {
	db *sqlitedb.DB
	w  *sqlitedb.Writer

	mu    sync.Mutex
	heads map[string]int64 // last seq given out per channel

	// Per channel, the seq up to which every write has ended (committed,
	// or failed): what a reader of the buffer can count on finding.
	smu      sync.Mutex
	settled  map[string]int64
	progress chan struct{} // closed, and replaced, whenever settled moves

	claims claims // what no agent has acked, until it is written (claims.go)
}

// OpenBuffer opens or creates the buffer database at path.
func OpenBuffer(ctx context.Context, path string) (*Buffer, error) {
	db, err := sqlitedb.Open(ctx, path, migrationFiles, sqlitedb.Options{})
	if err != nil {
		return nil, err
	}
	return &Buffer{db: db, w: sqlitedb.NewWriter(db.W, 512), heads: map[string]int64{},
		settled: map[string]int64{}, progress: make(chan struct{}), claims: newClaims()}, nil
}

// Expect tells the buffer's writer that n more appends (n < 0: fewer) are
// on their way, so that it commits them together (sqlitedb.Writer.Expect).
func (b *Buffer) Expect(n int) { b.w.Expect(n) }

// Close flushes pending writes and closes the database.
func (b *Buffer) Close() error {
	b.w.Close()
	return b.db.Close()
}

func (b *Buffer) head(ctx context.Context, channel string) (int64, error) {
	if h, ok := b.heads[channel]; ok {
		return h, nil
	}
	var h int64
	// Cursors count too: after pruning has emptied a channel, seqs must
	// still grow past what agents have acknowledged, or they would skip
	// new deliveries.
	err := b.db.R.QueryRowContext(ctx, `SELECT MAX(
		(SELECT COALESCE(MAX(seq), 0) FROM deliveries WHERE channel = ?1),
		(SELECT COALESCE(MAX(seq), 0) FROM cursors WHERE channel = ?1))`, channel).Scan(&h)
	if err != nil {
		return 0, fmt.Errorf("read channel head: %w", err)
	}
	b.heads[channel] = h
	b.settle(channel, h) // what is on disk has been written
	return h, nil
}

// settle records that every write of channel up to seq has ended. The
// writer calls it in commit order, so it only moves forward.
func (b *Buffer) settle(channel string, seq int64) {
	b.smu.Lock()
	defer b.smu.Unlock()
	if seq > b.settled[channel] {
		b.settled[channel] = seq
		close(b.progress)
		b.progress = make(chan struct{})
	}
}

// Settled waits until every delivery of channel given a seq so far has
// been written (or has failed to be), so that After finds all of them.
func (b *Buffer) Settled(ctx context.Context, channel string) error {
	b.mu.Lock()
	target, ok := b.heads[channel]
	b.mu.Unlock()
	if !ok {
		return nil // nothing appended since the relay started
	}
	for {
		b.smu.Lock()
		done, progress := b.settled[channel] >= target, b.progress
		b.smu.Unlock()
		if done {
			return nil
		}
		select {
		case <-progress:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// Head is the newest seq of channel (0 when empty).
func (b *Buffer) Head(ctx context.Context, channel string) (int64, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.head(ctx, channel)
}

// Append gives d the channel's next seq and returns once it is committed.
// publish, if not nil, is called as soon as d has its seq, in seq order
// (under the buffer's lock: it must not block), so that agents get d while
// it is being committed; whoever reads the buffer after a publish first
// waits for Settled. d is unclaimed until an agent acks it (Unclaimed);
// its event is read from d.Fields. When publish reports that no agent
// matched d, d's unclaimed row is committed with it. Its send is called
// once the write is submitted.
func (b *Buffer) Append(ctx context.Context, d *wire.Delivery, publish Publish) error {
	hdr := encodeHeader(d.Header)
	b.mu.Lock()
	h, err := b.head(ctx, d.Channel)
	if err != nil {
		b.mu.Unlock()
		return err
	}
	d.Seq = h + 1
	b.heads[d.Channel] = d.Seq
	claim := Claim{d.Channel, d.Seq}
	ev := EventOf(d.Fields)
	b.track(claim, ev) // before an agent can ack it
	var kept bool
	var send func()
	if publish != nil {
		kept, send = publish()
	}
	if kept {
		b.keep(claim)
	}
	// Submitted under the lock so that seqs commit in order.
	channel, seq := d.Channel, d.Seq
	done := b.w.GoThen(func(tx *sqlitedb.Tx) error {
		_, err := tx.Exec(`INSERT INTO deliveries(channel, seq, id, received_at, method, path, query, header, body, remote_addr, host, proto)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			d.Channel, d.Seq, d.ID, d.ReceivedAt.UnixMicro(), d.Method, d.Path, d.Query, hdr, d.Body, d.RemoteAddr, d.Host, d.Proto)
		if err != nil || !kept {
			return err
		}
		_, err = tx.Exec(`INSERT OR IGNORE INTO unclaimed(channel, seq, action, object_type, entity_id) VALUES (?, ?, ?, ?, ?)`,
			channel, seq, ev.Action, ev.ObjectType, ev.EntityID)
		return err
	}, func(err error) {
		switch {
		case err != nil:
			b.untrack(claim)
		case kept:
			b.written(claim)
		}
		b.settle(channel, seq)
	})
	if send != nil {
		send()
	}
	b.mu.Unlock()
	// Not abandoned when ctx ends: a commit takes milliseconds at most, and
	// the sender is owed the truth about it.
	if err := <-done; err != nil {
		return fmt.Errorf("store delivery: %w", err)
	}
	return nil
}

// headerBinary starts a header column in wire's binary header encoding,
// which keeps bytes that are not UTF-8 (JSON, which older relays wrote,
// replaces them) and costs less to write and read. JSON never starts with
// a control byte, so rows of either kind can be told apart.
const headerBinary = 0x01

func encodeHeader(h http.Header) []byte {
	// Sized in advance: one allocation (a length of 128 or more takes one
	// more byte than counted, which only costs a copy).
	n := 2 // the marker and the key count
	for k, vs := range h {
		n += len(k) + 2
		for _, v := range vs {
			n += len(v) + 2
		}
	}
	return wire.AppendHeader(append(make([]byte, 0, n), headerBinary), h)
}

// decodeHeader reads either kind of header column. A damaged one gives an
// empty header, as before: the delivery is still worth delivering.
func decodeHeader(b []byte) http.Header {
	var h http.Header
	if len(b) > 0 && b[0] == headerBinary {
		h, _ = wire.DecodeHeader(b[1:])
	} else {
		_ = json.Unmarshal(b, &h)
	}
	if h == nil {
		h = http.Header{}
	}
	return h
}

// Forget removes one delivery (used when the sender was told to retry).
func (b *Buffer) Forget(channel string, seq int64) {
	b.untrack(Claim{channel, seq})
	b.w.Go(func(tx *sqlitedb.Tx) error {
		if _, err := tx.Exec(`DELETE FROM deliveries WHERE channel = ? AND seq = ?`, channel, seq); err != nil {
			return err
		}
		_, err := tx.Exec(`DELETE FROM unclaimed WHERE channel = ? AND seq = ?`, channel, seq)
		return err
	})
}

// After returns up to limit deliveries of channel with seq > after, in
// order, and no more than about maxBytes of them (at least one). more
// reports whether it stopped at either bound rather than at the end.
func (b *Buffer) After(ctx context.Context, channel string, after int64, limit, maxBytes int) (out []*wire.Delivery, more bool, err error) {
	rows, err := b.db.R.QueryContext(ctx, `SELECT seq, id, received_at, method, path, query, header, body, remote_addr, host, proto
		FROM deliveries WHERE channel = ? AND seq > ? ORDER BY seq LIMIT ?`, channel, after, limit)
	if err != nil {
		return nil, false, fmt.Errorf("read buffer: %w", err)
	}
	return scanDeliveries(rows, channel, limit, maxBytes)
}

// scanDeliveries reads deliveries of channel from rows, up to about
// maxBytes of them, and closes rows.
func scanDeliveries(rows *sql.Rows, channel string, limit, maxBytes int) (out []*wire.Delivery, more bool, err error) {
	defer rows.Close()
	size := 0
	for rows.Next() {
		if size >= maxBytes {
			return out, true, nil
		}
		d := &wire.Delivery{Channel: channel}
		var us int64
		var hdr []byte
		if err := rows.Scan(&d.Seq, &d.ID, &us, &d.Method, &d.Path, &d.Query, &hdr, &d.Body, &d.RemoteAddr, &d.Host, &d.Proto); err != nil {
			return nil, false, fmt.Errorf("read buffer: %w", err)
		}
		d.ReceivedAt = time.UnixMicro(us).UTC()
		d.Header = decodeHeader(hdr)
		out = append(out, d)
		size += len(d.Body) + len(hdr)
	}
	if err := rows.Err(); err != nil {
		return nil, false, fmt.Errorf("read buffer: %w", err)
	}
	return out, len(out) == limit, nil
}

// Prune deletes deliveries received before cutoff and, per channel, all but
// the newest max (max <= 0: no count limit); then the cursors of agents
// not seen since cutoff that have nothing left to receive, unless
// connected(channel, agentID). It returns how many deliveries it deleted.
func (b *Buffer) Prune(ctx context.Context, cutoff time.Time, max int, connected func(channel, agentID string) bool) (int64, error) {
	var n int64
	err := b.w.Do(ctx, func(tx *sqlitedb.Tx) error {
		res, err := tx.Exec(`DELETE FROM deliveries WHERE received_at < ?`, cutoff.UnixMicro())
		if err != nil {
			return err
		}
		n, _ = res.RowsAffected()
		if max > 0 {
			res, err := tx.Exec(`DELETE FROM deliveries WHERE (channel, seq) IN (
				SELECT d.channel, d.seq FROM deliveries d
				JOIN (SELECT channel, MAX(seq) AS head FROM deliveries GROUP BY channel) h ON h.channel = d.channel
				WHERE d.seq <= h.head - ?)`, max)
			if err != nil {
				return err
			}
			m, _ := res.RowsAffected()
			n += m
		}
		if n > 0 {
			if _, err := tx.Exec(`DELETE FROM unclaimed WHERE NOT EXISTS (SELECT 1 FROM deliveries d
				WHERE d.channel = unclaimed.channel AND d.seq = unclaimed.seq)`); err != nil {
				return err
			}
		}
		return pruneCursors(tx, cutoff, connected)
	})
	return n, err
}

// Depth is the number of buffered deliveries per channel.
func (b *Buffer) Depth(ctx context.Context) (map[string]int64, error) {
	rows, err := b.db.R.QueryContext(ctx, `SELECT channel, COUNT(*) FROM deliveries GROUP BY channel`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]int64{}
	for rows.Next() {
		var c string
		var n int64
		if err := rows.Scan(&c, &n); err != nil {
			return nil, err
		}
		out[c] = n
	}
	return out, rows.Err()
}
