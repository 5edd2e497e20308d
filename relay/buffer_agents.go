package relay

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/hooktap/hooktap/relay/sqlitedb"
	"github.com/hooktap/hooktap/relay/wire"
)

// ErrAgentTaken is returned by Bind for an agent id bound to another key.
var ErrAgentTaken = errors.New("agent id bound to another key")

// Bind returns the seq after which a session of agentID should resume on
// channel: its own cursor when the relay has seen it before; otherwise
// after the furthest any agent of the channel has acknowledged (what no
// agent claimed reaches it through Unclaimed). The id is bound to keyHash
// on first use; an id bound to another key gets ErrAgentTaken.
func (b *Buffer) Bind(ctx context.Context, channel, agentID, keyHash string) (int64, error) {
	var seq int64
	var bound string
	err := b.db.R.QueryRowContext(ctx, `SELECT seq, key_hash FROM cursors WHERE channel = ? AND agent_id = ?`, channel, agentID).Scan(&seq, &bound)
	switch {
	case err == nil && bound == keyHash:
		return seq, nil // the common case: no write
	case err == nil && bound != "":
		return 0, ErrAgentTaken
	case err != nil && !errors.Is(err, sql.ErrNoRows):
		return 0, fmt.Errorf("read cursor: %w", err)
	}
	// A new id, or one from before keys: bound by the writer, where two
	// hellos with the same id cannot both win.
	taken := false
	err = b.w.Do(ctx, func(tx *sqlitedb.Tx) error {
		taken = false
		err := tx.QueryRow(`SELECT seq, key_hash FROM cursors WHERE channel = ? AND agent_id = ?`, channel, agentID).Scan(&seq, &bound)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			if err := tx.QueryRow(`SELECT COALESCE(MAX(seq), 0) FROM cursors WHERE channel = ?`, channel).Scan(&seq); err != nil {
				return err
			}
			_, err = tx.Exec(`INSERT INTO cursors(channel, agent_id, seq, updated_at, key_hash) VALUES (?, ?, ?, ?, ?)`,
				channel, agentID, seq, time.Now().UnixMicro(), keyHash)
			return err
		case err != nil:
			return err
		case bound == "":
			_, err = tx.Exec(`UPDATE cursors SET key_hash = ? WHERE channel = ? AND agent_id = ?`, keyHash, channel, agentID)
			return err
		case bound != keyHash:
			taken = true
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("bind agent: %w", err)
	}
	if taken {
		return 0, ErrAgentTaken
	}
	return seq, nil
}

// Cursor is how far one agent has acknowledged a channel.
type Cursor struct {
	Channel, AgentID string
	Seq              int64
}

// Claim is a delivery an agent acknowledged: it is no longer unclaimed.
type Claim struct {
	Channel string
	Seq     int64
}

// SetCursors saves agents' positions and clears the unclaimed mark of
// what they acknowledged; the channel reports the commit. Callers need not
// wait: a lost update only means a redelivery, which agents recognise by
// id.
func (b *Buffer) SetCursors(cs []Cursor, claims []Claim) <-chan error {
	now := time.Now().UnixMicro()
	cleared := map[string]int64{} // per channel, by the last run of the op
	return b.w.GoThen(func(tx *sqlitedb.Tx) error {
		clear(cleared) // an op runs again when its batch failed
		for _, c := range cs {
			_, err := tx.Exec(`INSERT INTO cursors(channel, agent_id, seq, updated_at) VALUES (?, ?, ?, ?)
				ON CONFLICT(channel, agent_id) DO UPDATE SET seq = MAX(seq, excluded.seq), updated_at = excluded.updated_at`,
				c.Channel, c.AgentID, c.Seq, now)
			if err != nil {
				return err
			}
		}
		for _, c := range claims {
			res, err := tx.Exec(`UPDATE deliveries SET unclaimed = 0 WHERE channel = ? AND seq = ? AND unclaimed = 1`, c.Channel, c.Seq)
			if err != nil {
				return err
			}
			n, _ := res.RowsAffected()
			cleared[c.Channel] += n
		}
		return nil
	}, func(err error) {
		if err == nil {
			for ch, n := range cleared {
				b.countMarked(ch, -n)
			}
		}
	})
}

// MarkUnclaimed marks as unclaimed, on channel, the deliveries seqs and
// those with after < seq <= through: what an agent that leaves had in
// flight or had not been sent yet. Some of them another agent may have
// claimed already; they are given to new agents once more, which is safe:
// agents recognise a delivery they have by its id.
func (b *Buffer) MarkUnclaimed(channel string, seqs []int64, after, through int64) <-chan error {
	var marked int64
	return b.w.GoThen(func(tx *sqlitedb.Tx) error {
		marked = 0
		for _, seq := range seqs {
			res, err := tx.Exec(`UPDATE deliveries SET unclaimed = 1 WHERE channel = ? AND seq = ? AND unclaimed = 0`, channel, seq)
			if err != nil {
				return err
			}
			n, _ := res.RowsAffected()
			marked += n
		}
		if through > after {
			res, err := tx.Exec(`UPDATE deliveries SET unclaimed = 1 WHERE channel = ? AND seq > ? AND seq <= ? AND unclaimed = 0`, channel, after, through)
			if err != nil {
				return err
			}
			n, _ := res.RowsAffected()
			marked += n
		}
		return nil
	}, func(err error) {
		if err == nil {
			b.countMarked(channel, marked)
		}
	})
}

// HasUnclaimed reports whether channel may have unclaimed deliveries.
func (b *Buffer) HasUnclaimed(channel string) bool {
	b.umu.Lock()
	defer b.umu.Unlock()
	return b.unclaimed[channel] > 0
}

func (b *Buffer) countMarked(channel string, n int64) {
	b.umu.Lock()
	defer b.umu.Unlock()
	if b.unclaimed[channel] += n; b.unclaimed[channel] <= 0 {
		delete(b.unclaimed, channel)
	}
}

// countUnclaimed reads how many unclaimed deliveries each channel has.
func (b *Buffer) countUnclaimed(ctx context.Context) error {
	rows, err := b.db.R.QueryContext(ctx, `SELECT channel, COUNT(*) FROM deliveries WHERE unclaimed = 1 GROUP BY channel`)
	if err != nil {
		return fmt.Errorf("count unclaimed deliveries: %w", err)
	}
	defer rows.Close()
	counts := map[string]int64{}
	for rows.Next() {
		var c string
		var n int64
		if err := rows.Scan(&c, &n); err != nil {
			return fmt.Errorf("count unclaimed deliveries: %w", err)
		}
		counts[c] = n
	}
	b.umu.Lock()
	b.unclaimed = counts
	b.umu.Unlock()
	return rows.Err()
}

// Unclaimed returns, like After, the unclaimed deliveries of channel with
// after < seq <= through.
func (b *Buffer) Unclaimed(ctx context.Context, channel string, after, through int64, limit, maxBytes int) ([]*wire.Delivery, bool, error) {
	rows, err := b.db.R.QueryContext(ctx, `SELECT seq, id, received_at, method, path, query, header, body, remote_addr, host, proto
		FROM deliveries WHERE channel = ? AND unclaimed = 1 AND seq > ? AND seq <= ? ORDER BY seq LIMIT ?`, channel, after, through, limit)
	if err != nil {
		return nil, false, fmt.Errorf("read buffer: %w", err)
	}
	return scanDeliveries(rows, channel, limit, maxBytes)
}

// pruneCursors deletes the cursors (and so the key bindings) of agents
// idle since cutoff with nothing left in the buffer after their position.
func pruneCursors(tx *sqlitedb.Tx, cutoff time.Time, connected func(channel, agentID string) bool) error {
	rows, err := tx.Query(`SELECT channel, agent_id FROM cursors c WHERE updated_at < ?
		AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.channel = c.channel AND d.seq > c.seq)`, cutoff.UnixMicro())
	if err != nil {
		return err
	}
	var stale []Cursor
	for rows.Next() {
		var c Cursor
		if err := rows.Scan(&c.Channel, &c.AgentID); err != nil {
			rows.Close()
			return err
		}
		if connected == nil || !connected(c.Channel, c.AgentID) {
			stale = append(stale, c)
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	for _, c := range stale {
		if _, err := tx.Exec(`DELETE FROM cursors WHERE channel = ? AND agent_id = ?`, c.Channel, c.AgentID); err != nil {
			return err
		}
	}
	return nil
}
