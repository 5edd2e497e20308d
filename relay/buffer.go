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
}

// OpenBuffer opens or creates the buffer database at path.
func OpenBuffer(ctx context.Context, path string) (*Buffer, error) {
	db, err := sqlitedb.Open(ctx, path, migrationFiles, sqlitedb.Options{})
	if err != nil {
		return nil, err
	}
	return &Buffer{db: db, w: sqlitedb.NewWriter(db.W, 512), heads: map[string]int64{},
		settled: map[string]int64{}, progress: make(chan struct{})}, nil
}

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
// publish, if not nil, is called as soon as d has its seq and its write is
// on its way, in seq order (under the buffer's lock: it must not block), so
// that agents get d while it is being committed; whoever reads the buffer
// after a publish first waits for Settled.
func (b *Buffer) Append(ctx context.Context, d *wire.Delivery, publish func()) error {
	hdr := encodeHeader(d.Header)
	b.mu.Lock()
	h, err := b.head(ctx, d.Channel)
	if err != nil {
		b.mu.Unlock()
		return err
	}
	d.Seq = h + 1
	b.heads[d.Channel] = d.Seq
	// Submitted under the lock so that seqs commit in order.
	channel, seq := d.Channel, d.Seq
	done := b.w.GoThen(func(tx *sqlitedb.Tx) error {
		_, err := tx.Exec(`INSERT INTO deliveries(channel, seq, id, received_at, method, path, query, header, body, remote_addr, host, proto)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			d.Channel, d.Seq, d.ID, d.ReceivedAt.UnixMicro(), d.Method, d.Path, d.Query, hdr, d.Body, d.RemoteAddr, d.Host, d.Proto)
		return err
	}, func(error) { b.settle(channel, seq) })
	if publish != nil {
		publish()
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
	b.w.Go(func(tx *sqlitedb.Tx) error {
		_, err := tx.Exec(`DELETE FROM deliveries WHERE channel = ? AND seq = ?`, channel, seq)
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
	return out, len(out) == limit, rows.Err()
}

// StartFor returns the seq after which a session of agentID should resume:
// its own cursor when the relay has seen it before; otherwise after the
// furthest any agent of the channel has acknowledged, so that what arrived
// while nobody listened reaches the first agent that comes.
func (b *Buffer) StartFor(ctx context.Context, channel, agentID string) (int64, error) {
	var seq int64
	err := b.db.R.QueryRowContext(ctx, `SELECT seq FROM cursors WHERE channel = ? AND agent_id = ?`, channel, agentID).Scan(&seq)
	if err == nil {
		return seq, nil
	}
	if err != sql.ErrNoRows {
		return 0, fmt.Errorf("read cursor: %w", err)
	}
	var furthest sql.NullInt64
	if err := b.db.R.QueryRowContext(ctx, `SELECT MAX(seq) FROM cursors WHERE channel = ?`, channel).Scan(&furthest); err != nil {
		return 0, fmt.Errorf("read cursors: %w", err)
	}
	return furthest.Int64, nil
}

// Cursor is how far one agent has acknowledged a channel.
type Cursor struct {
	Channel, AgentID string
	Seq              int64
}

// SetCursors saves agents' positions; the channel reports the commit.
// Callers need not wait: a lost update only means a redelivery, which agents
// recognise by id.
func (b *Buffer) SetCursors(cs []Cursor) <-chan error {
	now := time.Now().UnixMicro()
	return b.w.Go(func(tx *sqlitedb.Tx) error {
		for _, c := range cs {
			_, err := tx.Exec(`INSERT INTO cursors(channel, agent_id, seq, updated_at) VALUES (?, ?, ?, ?)
				ON CONFLICT(channel, agent_id) DO UPDATE SET seq = MAX(seq, excluded.seq), updated_at = excluded.updated_at`,
				c.Channel, c.AgentID, c.Seq, now)
			if err != nil {
				return err
			}
		}
		return nil
	})
}

// Prune deletes deliveries received before cutoff and, per channel, all but
// the newest max (max <= 0: no count limit). It returns how many it deleted.
func (b *Buffer) Prune(ctx context.Context, cutoff time.Time, max int) (int64, error) {
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
		return nil
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
