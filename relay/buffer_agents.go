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

// SetCursors saves agents' positions; the channel reports the commit.
// Callers need not wait: a lost update only means a redelivery, which
// agents recognise by id.
func (b *Buffer) SetCursors(cs []Cursor) <-chan error {
	now := time.Now().UnixMicro()
	return b.w.Go(func(tx *sqlitedb.Tx) error {
		for _, c := range cs {
			// Bind made the row; one pruned since (its agent idle past the
			// retention) stays gone, with its key binding, rather than coming
			// back unbound.
			_, err := tx.Exec(`UPDATE cursors SET seq = MAX(seq, ?), updated_at = ? WHERE channel = ? AND agent_id = ?`,
				c.Seq, now, c.Channel, c.AgentID)
			if err != nil {
				return err
			}
		}
		return nil
	})
}

// Deliveries returns the deliveries of channel with the given seqs that
// are still in the buffer, in order, stopping once they hold about
// maxBytes (at least one); rest is what it did not read.
func (b *Buffer) Deliveries(ctx context.Context, channel string, seqs []int64, maxBytes int) (ds []*wire.Delivery, rest []int64, err error) {
	size := 0
	for i, seq := range seqs {
		if size >= maxBytes {
			return ds, seqs[i:], nil
		}
		rows, err := b.db.R.QueryContext(ctx, `SELECT seq, id, received_at, method, path, query, header, body, remote_addr, host, proto
			FROM deliveries WHERE channel = ? AND seq = ?`, channel, seq)
		if err != nil {
			return nil, nil, fmt.Errorf("read buffer: %w", err)
		}
		got, _, err := scanDeliveries(rows, channel, 1, maxBytes)
		if err != nil {
			return nil, nil, err
		}
		for _, d := range got {
			size += len(d.Body)
			ds = append(ds, d)
		}
	}
	return ds, nil, nil
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
