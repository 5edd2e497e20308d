// Package sqlitedb opens SQLite databases the way hooktap uses them: WAL,
// pragmas in the DSN so every pooled connection gets them, one writer
// connection and a pool of read-only readers, and embedded numbered
// migrations recorded in a table.
package sqlitedb

import (
	"cmp"
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	_ "modernc.org/sqlite" // registers the "sqlite" driver
)

// DB is a database opened for one writer and many readers.
type DB struct {
	W    *sql.DB // exactly one connection: all writes go through it
	R    *sql.DB // read-only pool
	Path string
}

// ErrNotExist is returned by Open with mustExist when the file is missing.
var ErrNotExist = errors.New("no database")

// Options tune Open.
type Options struct {
	MustExist bool // fail instead of creating a new file
	Readers   int  // size of the read pool; 0 means 4
	// CheckpointPages is the WAL size, in pages, at which a commit
	// checkpoints; 0 means 4,000 (16 MiB). A store that takes large
	// transactions checkpoints less often with more: pages written again
	// before the checkpoint are copied once, and fewer checkpoints fsync.
	CheckpointPages int
	// CacheKiB bounds the writer's page cache; 0 means 16,000 KiB.
	CacheKiB int
	// ReaderCacheKiB bounds each reader's page cache; 0 means CacheKiB.
	// Readers find most pages in the OS's cache anyway; each of theirs is
	// resident memory the process keeps.
	ReaderCacheKiB int
	// Attach names other database files to attach to connections.
	Attach []Attachment
	// ReadOnly opens an existing file for reading only, with no
	// migrations (an older schema is refused), so that a store on a
	// read-only disk can be read: W is then a read-only connection too,
	// whose writes fail. Attachments whose file is missing are left out.
	ReadOnly bool
}

// Attachment is a database file attached to the connections of another, so
// that one statement can read both.
type Attachment struct {
	Schema string // the name statements qualify its tables with
	Path   string
	// Readers attaches it to the read pool; Writer to the writer, read-only
	// (each file has one writer: its own).
	Readers, Writer bool
	// CacheKiB bounds its page cache on each connection it is attached
	// to. The DSN's cache_size is the main file's only: without this, an
	// attached file gets SQLite's default, 2,000 KiB.
	CacheKiB int
}

// connector opens connections with attachments.
type connector struct {
	dsn    string
	attach []Attachment
	writer bool
	roMode string // read-only opening: "mode=ro" or "immutable=1", for the attachments too
}

// sqliteDriver is the driver registered as "sqlite", so that connections
// with attachments get the functions registered on it too.
var sqliteDriver = func() driver.Driver {
	db, _ := sql.Open("sqlite", "")
	defer db.Close()
	return db.Driver()
}()

func (c *connector) Driver() driver.Driver { return sqliteDriver }

func (c *connector) Connect(ctx context.Context) (driver.Conn, error) {
	conn, err := c.Driver().Open(c.dsn)
	if err != nil {
		return nil, err
	}
	for _, a := range c.attach {
		if (c.writer && !a.Writer) || (!c.writer && !a.Readers) {
			continue
		}
		uri := "file:" + (&url.URL{Path: a.Path}).EscapedPath()
		switch {
		case c.roMode != "":
			if _, err := os.Stat(a.Path); err != nil {
				continue // nothing to read, and nothing can create it
			}
			uri += "?" + c.roMode
		case c.writer:
			uri += "?mode=ro"
		}
		ex, ok := conn.(driver.ExecerContext)
		if !ok {
			conn.Close()
			return nil, errors.New("attach: driver cannot exec")
		}
		if _, err := ex.ExecContext(ctx, `ATTACH DATABASE ? AS "`+a.Schema+`"`, []driver.NamedValue{{Ordinal: 1, Value: uri}}); err != nil {
			conn.Close()
			return nil, fmt.Errorf("attach %s: %w", a.Path, err)
		}
		if a.CacheKiB > 0 {
			if _, err := ex.ExecContext(ctx, `PRAGMA "`+a.Schema+`".cache_size = -`+strconv.Itoa(a.CacheKiB), nil); err != nil {
				conn.Close()
				return nil, fmt.Errorf("attach %s: %w", a.Path, err)
			}
		}
	}
	return conn, nil
}

func openPool(path string, readOnly bool, o Options) (*sql.DB, error) {
	return openPoolMode(path, readOnly, "", o)
}

// openPoolMode is openPool with roMode ("mode=ro" or "immutable=1") added
// to the file's URI and the attachments'.
func openPoolMode(path string, readOnly bool, roMode string, o Options) (*sql.DB, error) {
	d := dsn(path, readOnly, o)
	if roMode != "" {
		d += "&" + roMode
	}
	if len(o.Attach) == 0 {
		return sql.Open("sqlite", d)
	}
	return sql.OpenDB(&connector{dsn: d, attach: o.Attach, writer: !readOnly, roMode: roMode}), nil
}

func dsn(path string, readOnly bool, o Options) string {
	q := url.Values{}
	q.Add("_pragma", "busy_timeout(5000)")
	q.Add("_pragma", "foreign_keys(1)")
	q.Add("_pragma", "synchronous(NORMAL)")
	cache := o.CacheKiB
	if cache <= 0 {
		cache = 16000
	}
	if readOnly && o.ReaderCacheKiB > 0 {
		cache = o.ReaderCacheKiB
	}
	q.Add("_pragma", "cache_size(-"+strconv.Itoa(cache)+")")
	q.Add("_pragma", "temp_store(MEMORY)")
	// Checkpoint every 4,000 pages (16 MiB of WAL) rather than 1,000:
	// checkpoints are what fsync in WAL mode with synchronous=NORMAL, and
	// under steady load they cost more than the commits. The WAL file is
	// trimmed back to 64 MiB after each.
	pages := o.CheckpointPages
	if pages <= 0 {
		pages = 4000
	}
	q.Add("_pragma", "wal_autocheckpoint("+strconv.Itoa(pages)+")")
	q.Add("_pragma", "journal_size_limit(67108864)")
	if readOnly {
		q.Add("_pragma", "query_only(1)")
	} else {
		q.Set("_txlock", "immediate")
	}
	return "file:" + (&url.URL{Path: path}).EscapedPath() + "?" + q.Encode()
}

// Open opens (or creates) the database at path and applies the migrations
// in fsys (files named migrations/NNNN_name.sql, as a package embeds them
// with //go:embed migrations/*.sql) that it has not applied yet, each in its
// own transaction.
func Open(ctx context.Context, path string, fsys fs.FS, o Options) (*DB, error) {
	migrations, err := fs.Sub(fsys, "migrations")
	if err != nil {
		return nil, fmt.Errorf("migrations: %w", err)
	}
	if o.ReadOnly {
		return openReadOnly(ctx, path, migrations, o)
	}
	if o.MustExist {
		if _, err := os.Stat(path); err != nil {
			return nil, fmt.Errorf("%w at %s", ErrNotExist, path)
		}
	} else if dir := filepath.Dir(path); dir != "" {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, fmt.Errorf("create data directory: %w", err)
		}
	}
	w, err := openPool(path, false, o)
	if err != nil {
		return nil, err
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxLifetime(0)
	w.SetConnMaxIdleTime(0)
	if err := walMode(ctx, w); err != nil {
		w.Close()
		return nil, describe(path, err)
	}
	if err := migrate(ctx, w, migrations); err != nil {
		w.Close()
		return nil, describe(path, err)
	}
	r, err := openPool(path, true, o)
	if err != nil {
		w.Close()
		return nil, err
	}
	n := o.Readers
	if n <= 0 {
		n = 4
	}
	r.SetMaxOpenConns(n)
	r.SetMaxIdleConns(n)
	return &DB{W: w, R: r, Path: path}, nil
}

// openReadOnly opens an existing file for reading only. A WAL file is read
// with mode=ro when SQLite can use its -shm file (there is one, or it can
// be created); on a read-only disk where it can be neither, as immutable,
// which nothing can change there anyway (what a -wal file left there holds
// is then not seen).
func openReadOnly(ctx context.Context, path string, migrations fs.FS, o Options) (*DB, error) {
	if _, err := os.Stat(path); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("%w at %s", ErrNotExist, path)
		}
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	latest, err := latestMigration(migrations)
	if err != nil {
		return nil, err
	}
	var firstErr error
	for _, mode := range []string{"mode=ro", "immutable=1"} {
		db, err := openReadOnlyMode(ctx, path, mode, o)
		if err != nil {
			firstErr = cmp.Or(firstErr, err)
			continue
		}
		var current int
		if err := db.R.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&current); err != nil {
			db.Close()
			firstErr = cmp.Or(firstErr, err)
			continue
		}
		if current < latest {
			db.Close()
			return nil, fmt.Errorf("%s was written by an older hooktap and cannot be upgraded while it is read-only", path)
		}
		return db, nil
	}
	return nil, describe(path, firstErr)
}

func openReadOnlyMode(ctx context.Context, path, mode string, o Options) (*DB, error) {
	n := cmp.Or(o.Readers, 4)
	var pools [2]*sql.DB
	for i, size := range []int{1, n} {
		p, err := openPoolMode(path, true, mode, o)
		if err == nil {
			err = p.PingContext(ctx)
		}
		if err != nil {
			if p != nil {
				p.Close()
			}
			if pools[0] != nil {
				pools[0].Close()
			}
			return nil, err
		}
		p.SetMaxOpenConns(size)
		p.SetMaxIdleConns(size)
		pools[i] = p
	}
	return &DB{W: pools[0], R: pools[1], Path: path}, nil
}

// latestMigration is the highest version among migrations.
func latestMigration(migrations fs.FS) (int, error) {
	entries, err := fs.ReadDir(migrations, ".")
	if err != nil {
		return 0, fmt.Errorf("read migrations: %w", err)
	}
	latest := 0
	for _, e := range entries {
		num, _, _ := strings.Cut(e.Name(), "_")
		if v, err := strconv.Atoi(num); err == nil && strings.HasSuffix(e.Name(), ".sql") {
			latest = max(latest, v)
		}
	}
	return latest, nil
}

// walMode turns on WAL. SQLite answers SQLITE_BUSY at once, without its
// busy handler, while another connection is switching a new file's journal
// mode too (two processes opening it together): that is retried for as
// long as the busy timeout.
func walMode(ctx context.Context, w *sql.DB) error {
	deadline := time.Now().Add(5 * time.Second)
	for {
		_, err := w.ExecContext(ctx, "PRAGMA journal_mode=WAL")
		if err == nil || !strings.Contains(err.Error(), "SQLITE_BUSY") || time.Now().After(deadline) {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// Close closes both pools.
func (db *DB) Close() error {
	return errors.Join(db.R.Close(), db.W.Close())
}

// describe turns SQLite's errors about the file itself into one clear line.
func describe(path string, err error) error {
	msg := err.Error()
	switch {
	case strings.Contains(msg, "not a database"), strings.Contains(msg, "malformed"):
		return fmt.Errorf("%s is not a hooktap database or is corrupt: %w", path, err)
	case strings.Contains(msg, "database is locked"), strings.Contains(msg, "SQLITE_BUSY"):
		return fmt.Errorf("%s is locked by another process: %w", path, err)
	case strings.Contains(msg, "unable to open database file"), strings.Contains(msg, "readonly database"):
		// SQLite does not say why (CANTOPEN, 14; READONLY, 8): the file
		// system does.
		if why := cannotWrite(path); why != nil {
			return fmt.Errorf("open %s: %w", path, why)
		}
	}
	return fmt.Errorf("open %s: %w", path, err)
}

// cannotWrite is why path, or the files SQLite keeps beside it (-wal,
// -shm), cannot be written: a missing directory, a read-only file system,
// no permission; nil when nothing stands in the way.
func cannotWrite(path string) error {
	dir := filepath.Dir(path)
	if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
		return fmt.Errorf("directory %s does not exist", dir)
	}
	if f, err := os.OpenFile(path, os.O_RDWR, 0); err == nil {
		f.Close()
	} else if !errors.Is(err, fs.ErrNotExist) {
		return plainErr(err)
	}
	f, err := os.CreateTemp(dir, ".hooktap-probe-*")
	if err != nil {
		return plainErr(err)
	}
	f.Close()
	os.Remove(f.Name())
	return nil
}

// plainErr is the system's reason alone ("read-only file system",
// "permission denied"), without the operation and path around it.
func plainErr(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

func migrate(ctx context.Context, db *sql.DB, migrations fs.FS) error {
	if _, err := db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL DEFAULT (unixepoch()))`); err != nil {
		return fmt.Errorf("migrations table: %w", err)
	}
	entries, err := fs.ReadDir(migrations, ".")
	if err != nil {
		return fmt.Errorf("read migrations: %w", err)
	}
	type mig struct {
		version int
		name    string
	}
	var ms []mig
	for _, e := range entries {
		name := e.Name()
		if !strings.HasSuffix(name, ".sql") {
			continue
		}
		num, _, _ := strings.Cut(name, "_")
		v, err := strconv.Atoi(num)
		if err != nil {
			return fmt.Errorf("migration %s: name must start with a number", name)
		}
		ms = append(ms, mig{v, name})
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].version < ms[j].version })

	var current int
	if err := db.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&current); err != nil {
		return fmt.Errorf("read schema version: %w", err)
	}
	for _, m := range ms {
		if m.version <= current {
			continue
		}
		body, err := fs.ReadFile(migrations, m.name)
		if err != nil {
			return err
		}
		tx, err := db.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		// Another process opening the same new file may have applied it
		// since we read the version: the writer's transactions are
		// IMMEDIATE, so this check and the migration are one step.
		var done int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM schema_migrations WHERE version = ?`, m.version).Scan(&done); err != nil {
			tx.Rollback()
			return fmt.Errorf("read schema version: %w", err)
		}
		if done > 0 {
			tx.Rollback()
			continue
		}
		if _, err := tx.ExecContext(ctx, string(body)); err != nil {
			tx.Rollback()
			return fmt.Errorf("migration %s: %w", m.name, err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations(version, name) VALUES (?, ?)`, m.version, m.name); err != nil {
			tx.Rollback()
			return err
		}
		if err := tx.Commit(); err != nil {
			return fmt.Errorf("migration %s: %w", m.name, err)
		}
	}
	return nil
}
