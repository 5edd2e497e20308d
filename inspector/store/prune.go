package store

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/hooktap/hooktap/relay/sqlitedb"
)

// Retention says which deliveries a store keeps. Zero fields keep all.
type Retention struct {
	MaxAge        time.Duration // delete deliveries received longer ago than this
	MaxDeliveries int64         // keep only the newest this many
}

// IsZero reports whether r keeps everything.
func (r Retention) IsZero() bool { return r.MaxAge <= 0 && r.MaxDeliveries <= 0 }

// pruneBatch bounds one delete so that the single writer is never held for
// long: the agent's writes interleave with a large prune.
const pruneBatch = 2000

// Prune deletes the deliveries r does not keep, with their attempts and
// index entries, oldest first, and returns how many it deleted. Freed pages
// are reused by later writes, so the file stops growing; it does not shrink
// (VACUUM does that).
func (s *Store) Prune(ctx context.Context, r Retention, now time.Time) (int64, error) {
	if r.IsZero() {
		return 0, nil
	}
	var total int64
	var cutoff int64 // with MaxDeliveries, the newest seq to delete
	if r.MaxDeliveries > 0 {
		err := s.db.R.QueryRowContext(ctx, `SELECT COALESCE((SELECT seq FROM deliveries ORDER BY seq DESC LIMIT 1 OFFSET ?), 0)`,
			r.MaxDeliveries).Scan(&cutoff)
		if err != nil {
			return 0, fmt.Errorf("prune: %w", err)
		}
	}
	before := now.Add(-r.MaxAge).UnixMicro()
	p := pruneProgress{report: progressOf(ctx)}
	if hasProgress(ctx) {
		// How many the two conditions delete together, for a bar.
		err := s.db.R.QueryRowContext(ctx, `SELECT COUNT(*) FROM deliveries WHERE seq <= ? OR (? AND received_at < ?)`,
			cutoff, r.MaxAge > 0, before).Scan(&p.total)
		if err != nil {
			return 0, fmt.Errorf("prune: %w", err)
		}
		p.report(0, p.total)
	}
	if r.MaxDeliveries > 0 {
		n, err := s.deleteWhere(ctx, `seq <= ?`, cutoff, &p)
		total += n
		if err != nil {
			return total, err
		}
	}
	if r.MaxAge > 0 {
		n, err := s.deleteWhere(ctx, `received_at < ?`, before, &p)
		total += n
		if err != nil {
			return total, err
		}
	}
	return total, nil
}

// pruneProgress counts a prune's deletes for its Progress.
type pruneProgress struct {
	report      Progress
	done, total int64
}

func (p *pruneProgress) add(n int64) {
	p.done += n
	p.report(p.done, max(p.total, p.done))
}

// deleteWhere deletes the deliveries cond selects, pruneBatch at a time:
// first their entries in the full-text index (its own file, which no
// trigger reaches), then the rows. A crash in between leaves rows that
// search no longer finds, and that the next prune deletes.
func (s *Store) deleteWhere(ctx context.Context, cond string, arg any, p *pruneProgress) (int64, error) {
	s.indexMu.Lock() // nothing is indexed while its entries are deleted
	defer s.indexMu.Unlock()
	var total int64
	for {
		var seqs []int64
		rows, err := s.db.R.QueryContext(ctx, `SELECT seq FROM deliveries WHERE `+cond+` ORDER BY seq LIMIT ?`, arg, pruneBatch)
		if err != nil {
			return total, fmt.Errorf("prune: %w", err)
		}
		for rows.Next() {
			var seq int64
			if err := rows.Scan(&seq); err != nil {
				rows.Close()
				return total, fmt.Errorf("prune: %w", err)
			}
			seqs = append(seqs, seq)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return total, fmt.Errorf("prune: %w", err)
		}
		if len(seqs) == 0 {
			return total, nil
		}
		// Deleting the newest deliveries lets SQLite give their seqs out
		// again: the watermark goes below every deleted seq first (the
		// deliveries between it and its old value still there are indexed
		// again), so a new delivery with a reused seq is indexed.
		list, _ := json.Marshal(seqs)
		var keep int64 // the newest seq that stays
		if err := s.db.R.QueryRowContext(ctx, `SELECT COALESCE(MAX(seq), 0) FROM deliveries WHERE seq < ?`, seqs[0]).Scan(&keep); err != nil {
			return total, fmt.Errorf("prune: %w", err)
		}
		err = s.sw.Do(ctx, func(tx *sqlitedb.Tx) error {
			if _, err := tx.Exec(`DELETE FROM deliveries_fts WHERE rowid IN (SELECT value FROM json_each(?))`, string(list)); err != nil {
				return err
			}
			_, err := tx.Exec(`UPDATE indexed SET through = MIN(through, ?) WHERE NOT EXISTS (SELECT 1 FROM store.deliveries WHERE seq > ?)`,
				keep, seqs[len(seqs)-1])
			return err
		})
		if err != nil {
			return total, fmt.Errorf("prune index: %w", err)
		}
		// Waited for whatever ctx says: once submitted the delete is
		// committed, and total must count it.
		var n int64
		err = <-s.w.Go(func(tx *sqlitedb.Tx) error {
			res, err := tx.Exec(`DELETE FROM deliveries WHERE seq IN (SELECT value FROM json_each(?))`, string(list))
			if err != nil {
				return err
			}
			n, err = res.RowsAffected()
			return err
		})
		if err != nil {
			return total, fmt.Errorf("prune: %w", err)
		}
		total += n
		p.add(n)
		if len(seqs) < pruneBatch {
			return total, nil
		}
	}
}
