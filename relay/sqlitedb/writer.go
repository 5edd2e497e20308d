package sqlitedb

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
)

// Tx is the transaction a write runs in. Exec and QueryRow use statements
// prepared once per Writer.
type Tx struct {
	tx *sql.Tx
	w  *Writer
}

// Exec runs query with args.
func (t *Tx) Exec(query string, args ...any) (sql.Result, error) {
	if st := t.w.stmt(query); st != nil {
		return t.tx.Stmt(st).Exec(args...)
	}
	return t.tx.Exec(query, args...)
}

// QueryRow runs a query that returns one row.
func (t *Tx) QueryRow(query string, args ...any) *sql.Row {
	if st := t.w.stmt(query); st != nil {
		return t.tx.Stmt(st).QueryRow(args...)
	}
	return t.tx.QueryRow(query, args...)
}

// Op is one unit of writing. Ops are batched into one transaction; each runs
// inside its own savepoint so that one failing op does not undo the others.
type Op func(*Tx) error

type request struct {
	op   Op
	done chan error
}

// ErrWriterClosed is returned for writes submitted after Close.
var ErrWriterClosed = errors.New("store is closed")

// Writer is the single writer of a database. It batches concurrent writes
// into one transaction (group commit), so many small writes cost one fsync.
type Writer struct {
	db       *sql.DB
	reqs     chan request
	maxBatch int

	mu     sync.Mutex
	stmts  map[string]*sql.Stmt // nil value: seen, not prepared yet
	wanted []string

	closing chan struct{}
	closed  chan struct{}
	once    sync.Once
}

// NewWriter starts the writer goroutine over db, which must allow exactly
// one connection.
func NewWriter(db *sql.DB, maxBatch int) *Writer {
	if maxBatch <= 0 {
		maxBatch = 512
	}
	w := &Writer{
		db:       db,
		reqs:     make(chan request, maxBatch),
		maxBatch: maxBatch,
		stmts:    map[string]*sql.Stmt{},
		closing:  make(chan struct{}),
		closed:   make(chan struct{}),
	}
	go w.loop()
	return w
}

// stmt returns the prepared statement for query, or nil the first time a
// query is seen: it is prepared after the current transaction, because the
// writer's only connection is busy until then.
func (w *Writer) stmt(query string) *sql.Stmt {
	w.mu.Lock()
	defer w.mu.Unlock()
	st, ok := w.stmts[query]
	if !ok {
		w.stmts[query] = nil
		w.wanted = append(w.wanted, query)
	}
	return st
}

// prepare prepares the statements seen in the last transaction.
func (w *Writer) prepare() {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, q := range w.wanted {
		if st, err := w.db.Prepare(q); err == nil {
			w.stmts[q] = st
		}
	}
	w.wanted = w.wanted[:0]
}

// Go submits op and returns a channel that receives its result once the
// transaction holding it has committed (nil) or failed.
func (w *Writer) Go(op Op) <-chan error {
	done := make(chan error, 1)
	select {
	case w.reqs <- request{op, done}:
	case <-w.closing:
		done <- ErrWriterClosed
	}
	return done
}

// Do submits op and waits until it is committed.
func (w *Writer) Do(ctx context.Context, op Op) error {
	select {
	case err := <-w.Go(op):
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Close commits what was submitted before it and stops the writer.
func (w *Writer) Close() {
	w.once.Do(func() { close(w.closing) })
	<-w.closed
	w.mu.Lock()
	for _, st := range w.stmts {
		if st != nil {
			st.Close()
		}
	}
	w.mu.Unlock()
}

func (w *Writer) loop() {
	defer close(w.closed)
	batch := make([]request, 0, w.maxBatch)
	for {
		batch = batch[:0]
		select {
		case r := <-w.reqs:
			batch = append(batch, r)
		case <-w.closing:
			// Drain what was queued before Close.
		drain:
			for {
				select {
				case r := <-w.reqs:
					batch = append(batch, r)
					if len(batch) == w.maxBatch {
						w.commit(batch)
						batch = batch[:0]
					}
				default:
					break drain
				}
			}
			if len(batch) > 0 {
				w.commit(batch)
			}
			return
		}
	fill:
		for len(batch) < w.maxBatch {
			select {
			case r := <-w.reqs:
				batch = append(batch, r)
			default:
				break fill
			}
		}
		w.commit(batch)
	}
}

func (w *Writer) commit(batch []request) {
	results := make([]error, len(batch))
	err := func() error {
		tx, err := w.db.Begin()
		if err != nil {
			return err
		}
		t := &Tx{tx: tx, w: w}
		single := len(batch) == 1
		for i, r := range batch {
			if single {
				results[i] = r.op(t)
				if results[i] != nil {
					tx.Rollback()
					return nil
				}
				continue
			}
			if _, err := tx.Exec("SAVEPOINT op"); err != nil {
				tx.Rollback()
				return err
			}
			if results[i] = r.op(t); results[i] != nil {
				if _, err := tx.Exec("ROLLBACK TO op"); err != nil {
					tx.Rollback()
					return err
				}
			}
			if _, err := tx.Exec("RELEASE op"); err != nil {
				tx.Rollback()
				return err
			}
		}
		return tx.Commit()
	}()
	for i, r := range batch {
		if err != nil {
			r.done <- fmt.Errorf("commit: %w", err)
		} else {
			r.done <- results[i]
		}
	}
	w.prepare()
}
