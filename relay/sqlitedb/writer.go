package sqlitedb

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// Tx is the transaction a write runs in. Exec and QueryRow use statements
// prepared once per Writer.
type Tx struct {
	tx    *sql.Tx
	w     *Writer
	bound map[*sql.Stmt]*sql.Stmt // the writer's statements, bound to tx once
}

// stmt returns query's prepared statement bound to t, or nil. Binding
// (sql.Tx.Stmt) allocates and locks, so it is done once per statement per
// transaction rather than once per row.
func (t *Tx) stmt(query string) *sql.Stmt {
	st := t.w.stmt(query)
	if st == nil {
		return nil
	}
	if b, ok := t.bound[st]; ok {
		return b
	}
	if t.bound == nil {
		t.bound = map[*sql.Stmt]*sql.Stmt{}
	}
	b := t.tx.Stmt(st)
	t.bound[st] = b
	return b
}

// Exec runs query with args.
func (t *Tx) Exec(query string, args ...any) (sql.Result, error) {
	if st := t.stmt(query); st != nil {
		return st.Exec(args...)
	}
	return t.tx.Exec(query, args...)
}

// Query runs a query that returns rows (not prepared: for rare queries).
func (t *Tx) Query(query string, args ...any) (*sql.Rows, error) {
	return t.tx.Query(query, args...)
}

// QueryRow runs a query that returns one row.
func (t *Tx) QueryRow(query string, args ...any) *sql.Row {
	if st := t.stmt(query); st != nil {
		return st.QueryRow(args...)
	}
	return t.tx.QueryRow(query, args...)
}

// Op is one unit of writing. Ops are batched into one transaction; an op
// must be safe to run again (it is, when its batch failed).
type Op func(*Tx) error

type request struct {
	op    Op
	after func(error) // run by the writer once op's transaction ended
	done  chan error
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

	expected  atomic.Int64  // writes on their way (Expect)
	lingerFor time.Duration // maxLinger; tests lengthen it

	state    sync.RWMutex // held for reading while submitting
	closed   bool         // guarded by state
	closing  chan struct{}
	loopDone chan struct{}
	once     sync.Once
}

// NewWriter starts the writer goroutine over db, which must allow exactly
// one connection.
func NewWriter(db *sql.DB, maxBatch int) *Writer {
	if maxBatch <= 0 {
		maxBatch = 512
	}
	w := &Writer{
		db:        db,
		reqs:      make(chan request, maxBatch),
		maxBatch:  maxBatch,
		lingerFor: maxLinger,
		stmts:     map[string]*sql.Stmt{},
		closing:   make(chan struct{}),
		loopDone:  make(chan struct{}),
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

// maxLinger bounds how long a batch is held open for writes on their way.
const maxLinger = 500 * time.Microsecond

// Expect tells the writer that n more writes are on their way (n < 0: that
// many fewer): submitted within microseconds by callers busy with
// something short. While any are expected, the writer holds its batch
// open, up to maxLinger, to take them into the same commit: under load, few
// large commits instead of many small ones, which is most of the cost of a
// write. With none on the way it commits at once, so a lone write waits for
// nothing. Every caller adds and takes back its own, so that several
// (two agents on one store, say) can share a writer.
func (w *Writer) Expect(n int) { w.expected.Add(int64(n)) }

// SetLinger sets how long a batch is held open at most for the writes that
// Expect announced (default maxLinger). Call it before the first write.
func (w *Writer) SetLinger(d time.Duration) { w.lingerFor = d }

// linger adds to batch the writes that arrive while more are expected.
func (w *Writer) linger(batch []request) []request {
	if len(batch) >= w.maxBatch || w.expected.Load() <= 0 {
		return batch
	}
	t := time.NewTimer(w.lingerFor)
	defer t.Stop()
	for len(batch) < w.maxBatch && w.expected.Load() > 0 {
		select {
		case r := <-w.reqs:
			batch = append(batch, r)
		case <-t.C:
			return batch
		case <-w.closing:
			return batch
		}
	}
	return batch
}

// Go submits op and returns a channel that receives its result once the
// transaction holding it has committed (nil) or failed.
func (w *Writer) Go(op Op) <-chan error {
	return w.GoThen(op, nil)
}

// GoThen is Go with a function that the writer calls with op's result
// right after its transaction ends, before anything submitted later: a
// way to act in commit order. after must not block.
func (w *Writer) GoThen(op Op, after func(error)) <-chan error {
	done := make(chan error, 1)
	w.state.RLock()
	defer w.state.RUnlock()
	if w.closed {
		if after != nil {
			after(ErrWriterClosed)
		}
		done <- ErrWriterClosed
		return done
	}
	w.reqs <- request{op, after, done} // the loop drains reqs until Close holds state
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
	w.once.Do(func() {
		w.state.Lock() // waits for submissions in progress
		w.closed = true
		close(w.closing)
		w.state.Unlock()
	})
	<-w.loopDone
	w.mu.Lock()
	for _, st := range w.stmts {
		if st != nil {
			st.Close()
		}
	}
	w.mu.Unlock()
}

func (w *Writer) loop() {
	defer close(w.loopDone)
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
		batch = w.linger(batch)
		w.commit(batch)
	}
}

func (w *Writer) commit(batch []request) {
	// The whole batch in one transaction. Ops rarely fail; when one does,
	// the batch is rolled back and every op runs again in a transaction of
	// its own, so that one failure does not undo the others.
	if len(batch) > 1 {
		if err := w.runTx(batch); err == nil {
			for _, r := range batch {
				r.finish(nil)
			}
			w.prepare()
			return
		}
	}
	for _, r := range batch {
		r.finish(w.runTx([]request{r}))
	}
	w.prepare()
}

func (r request) finish(err error) {
	if r.after != nil {
		r.after(err)
	}
	r.done <- err
}

// runTx runs ops in one transaction and commits it; the first error rolls
// it back and is returned.
func (w *Writer) runTx(ops []request) error {
	tx, err := w.db.Begin()
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	t := &Tx{tx: tx, w: w}
	for _, r := range ops {
		if err := r.op(t); err != nil {
			tx.Rollback()
			return err
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}
