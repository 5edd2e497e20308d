package relay

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/hooktap/hooktap/relay/sqlitedb"
)

// Claims: a delivery is unclaimed until an agent acknowledges it. What is
// unclaimed goes to the next agent whose filter matches (catchup.go), so
// it is kept in the buffer's unclaimed table, which survives crashes. Most
// deliveries are acknowledged within milliseconds, so a delivery is only
// written there once it has stayed unclaimed for a little while
// (claimsAge): the common case writes nothing. A relay that crashes loses
// the claims of its last few tens of milliseconds, and so treats those
// deliveries as claimed.

// Claim names a delivery: its channel and seq.
type Claim struct {
	Channel string
	Seq     int64
}

// claimsAge is how long a delivery stays unclaimed before its row is
// written.
const claimsAge = 25 * time.Millisecond

// claims tracks the unclaimed deliveries not written yet, and the acks of
// written ones, until the next flush.
type claims struct {
	mu    sync.Mutex
	fresh map[Claim]fresh    // unclaimed, no row yet
	drop  map[Claim]struct{} // acked, its row to delete (or being deleted)
	// flush is held by a flush from taking its rows out of fresh and drop
	// until its commit is reflected there, and for reading by Unclaimed:
	// a read of the table taken while a flush commits, matched against the
	// maps as that flush left them, would return rows acked before the
	// read (their DELETE committed after its snapshot, their drop entry
	// gone), or miss rows (no longer fresh, their INSERT not in it).
	flush sync.RWMutex
}

type fresh struct {
	ev    Event
	since time.Time
	// kept: no agent matched it, so its row is written with the delivery
	// itself (Append), before the sender is told it is kept; a crash just
	// after that answer must not lose it for the agent it is kept for.
	kept bool
}

func newClaims() claims {
	return claims{fresh: map[Claim]fresh{}, drop: map[Claim]struct{}{}}
}

// track notes a new delivery: unclaimed.
func (b *Buffer) track(c Claim, ev Event) {
	b.claims.mu.Lock()
	b.claims.fresh[c] = fresh{ev: ev, since: time.Now()}
	b.claims.mu.Unlock()
}

// keep marks a tracked delivery as kept: Append writes its row.
func (b *Buffer) keep(c Claim) {
	b.claims.mu.Lock()
	if f, ok := b.claims.fresh[c]; ok {
		f.kept = true
		b.claims.fresh[c] = f
	}
	b.claims.mu.Unlock()
}

// written notes that a kept delivery's row was committed: from now on an
// ack deletes it.
func (b *Buffer) written(c Claim) {
	b.claims.mu.Lock()
	delete(b.claims.fresh, c)
	b.claims.mu.Unlock()
}

// untrack forgets a delivery that is not in the buffer (its write failed,
// or it was forgotten).
func (b *Buffer) untrack(c Claim) {
	b.claims.mu.Lock()
	delete(b.claims.fresh, c)
	b.claims.mu.Unlock()
}

// Claim records an agent's ack of (channel, seq): it is no longer
// unclaimed.
func (b *Buffer) Claim(channel string, seq int64) {
	c := Claim{channel, seq}
	b.claims.mu.Lock()
	defer b.claims.mu.Unlock()
	if f, ok := b.claims.fresh[c]; ok && !f.kept {
		delete(b.claims.fresh, c) // acked in time: nothing to write
		return
	}
	delete(b.claims.fresh, c) // a kept one's row is written before its ack can be
	b.claims.drop[c] = struct{}{}
}

// ClaimsPending reports whether claims wait for a flush.
func (b *Buffer) ClaimsPending() bool {
	b.claims.mu.Lock()
	defer b.claims.mu.Unlock()
	return len(b.claims.fresh) > 0 || len(b.claims.drop) > 0
}

// FlushClaims writes the rows of the deliveries unclaimed for at least
// minAge and deletes those of the acked ones; the channel reports the
// commit.
func (b *Buffer) FlushClaims(minAge time.Duration) <-chan error {
	b.claims.flush.Lock() // until the commit is reflected in the maps
	b.claims.mu.Lock()
	cutoff := time.Now().Add(-minAge)
	type row struct {
		Claim
		ev Event
	}
	var add []row
	for c, f := range b.claims.fresh {
		if !f.kept && !f.since.After(cutoff) {
			add = append(add, row{c, f.ev})
			delete(b.claims.fresh, c)
		}
	}
	del := make([]Claim, 0, len(b.claims.drop))
	for c := range b.claims.drop {
		del = append(del, c)
	}
	b.claims.mu.Unlock()
	if len(add) == 0 && len(del) == 0 {
		b.claims.flush.Unlock()
		done := make(chan error, 1)
		done <- nil
		return done
	}
	return b.w.GoThen(func(tx *sqlitedb.Tx) error {
		for _, r := range add {
			if _, err := tx.Exec(`INSERT OR IGNORE INTO unclaimed(channel, seq, action, object_type, entity_id) VALUES (?, ?, ?, ?, ?)`,
				r.Channel, r.Seq, r.ev.Action, r.ev.ObjectType, r.ev.EntityID); err != nil {
				return err
			}
		}
		for _, c := range del {
			if _, err := tx.Exec(`DELETE FROM unclaimed WHERE channel = ? AND seq = ?`, c.Channel, c.Seq); err != nil {
				return err
			}
		}
		return nil
	}, func(err error) {
		defer b.claims.flush.Unlock()
		b.claims.mu.Lock()
		defer b.claims.mu.Unlock()
		if err != nil { // back for the next flush
			for _, r := range add {
				if _, acked := b.claims.drop[r.Claim]; !acked {
					b.claims.fresh[r.Claim] = fresh{ev: r.ev}
				}
			}
			return
		}
		for _, c := range del {
			delete(b.claims.drop, c)
		}
	})
}

// Pending is a delivery no agent has acknowledged yet, and its event.
type Pending struct {
	Seq int64
	Event
}

// Unclaimed returns up to limit of the unclaimed deliveries of channel with
// after < seq <= through, in order: rows of the table and those not written
// yet, without those whose ack is on its way. more reports whether there
// may be others after them.
func (b *Buffer) Unclaimed(ctx context.Context, channel string, after, through int64, limit int) (ps []Pending, more bool, err error) {
	b.claims.flush.RLock() // the table and the maps as one flush left them
	defer b.claims.flush.RUnlock()
	rows, err := b.db.R.QueryContext(ctx, `SELECT seq, action, object_type, entity_id FROM unclaimed WHERE channel = ? AND seq > ? AND seq <= ?
		ORDER BY seq LIMIT ?`, channel, after, through, limit)
	if err != nil {
		return nil, false, fmt.Errorf("read unclaimed: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var p Pending
		if err := rows.Scan(&p.Seq, &p.Action, &p.ObjectType, &p.EntityID); err != nil {
			return nil, false, fmt.Errorf("read unclaimed: %w", err)
		}
		ps = append(ps, p)
	}
	if err := rows.Err(); err != nil {
		return nil, false, fmt.Errorf("read unclaimed: %w", err)
	}
	more = len(ps) == limit
	if more {
		through = ps[len(ps)-1].Seq // the rest comes with the next page
	}
	b.claims.mu.Lock()
	defer b.claims.mu.Unlock()
	ps = slices.DeleteFunc(ps, func(p Pending) bool {
		_, acked := b.claims.drop[Claim{channel, p.Seq}]
		return acked
	})
	for c, f := range b.claims.fresh {
		if c.Channel == channel && c.Seq > after && c.Seq <= through {
			ps = append(ps, Pending{c.Seq, f.ev})
		}
	}
	slices.SortFunc(ps, func(a, b Pending) int { return cmp.Compare(a.Seq, b.Seq) })
	return slices.CompactFunc(ps, func(a, b Pending) bool { return a.Seq == b.Seq }), more, nil
}

// Unclaim implements Claims. The buffer tracks every delivery from Append
// until an agent acks it, so what a leaving agent had in flight is
// unclaimed already.
func (b *Buffer) Unclaim(string, []Pending) {}
