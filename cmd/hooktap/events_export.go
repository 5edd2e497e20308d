package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/hooktap/hooktap/inspector/store"
)

func eventsExport(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "events export", "events export [--format json|har] [--limit N] [--json] [--output FILE] [filters] > FILE")
	db := dbFlag(fs, e)
	output := fs.String("output", "", "write to this `file` (complete or not at all) instead of stdout")
	format := fs.String("format", "json", "json (hooktap's lossless JSON lines, for import) or har (HAR 1.2)")
	limit := fs.Int("limit", 0, "only the newest N matches (0: all); written oldest first either way")
	jsonOut := fs.Bool("json", false, "when done, print a JSON summary line on stderr (stdout carries the export)")
	var f filterFlags
	f.register(fs)
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	q, err := f.query(pos, time.Now())
	if err != nil {
		return err
	}
	if *format != "json" && *format != "har" {
		return usagef("bad --format %q: use json or har", *format)
	}
	if *limit < 0 {
		return usagef("bad --limit %d: use 0 (all) or more", *limit)
	}
	q.Limit = *limit
	st, err := readStore(ctx, *db)
	if err != nil {
		return err
	}
	defer st.Close()
	start := time.Now()
	if q.Search != "" {
		if err := indexWithProgress(ctx, e, st); err != nil {
			return err
		}
	}
	w, done, err := exportOutput(e, *output)
	if err != nil {
		return err
	}
	defer done(false)
	var bar *progressBar
	if !isTerminal(w) { // on the screen, the records themselves show the progress
		bar = newProgress(e, "exporting")
	}
	pctx := store.WithProgress(ctx, bar.progress())
	var n int
	if *format == "har" {
		n, err = st.ExportHAR(pctx, w, q, buildVersion())
	} else {
		n, err = st.Export(pctx, w, q)
	}
	bar.finish()
	unit := "deliveries"
	if *format == "har" {
		unit = "entries" // one per attempt
	}
	if err != nil && ctx.Err() != nil {
		if *output != "" {
			return interruptedf("interrupted after %s %s: nothing written to %s", comma(int64(n)), unit, *output)
		}
		return interruptedf("interrupted after %s %s: the export on stdout is incomplete (not valid %s)", comma(int64(n)), unit, strings.ToUpper(*format))
	}
	if err == nil {
		err = done(true)
	}
	if err != nil {
		return fmt.Errorf("export: %w", err)
	}
	if *jsonOut {
		return printJSONLine(e.stderr, map[string]any{"type": "export", "format": *format, unit: n, "duration_ms": msSince(start)})
	}
	return nil
}

// exportOutput is where an export goes: stdout, or with --output a file
// in the same directory that done(true) renames to path once complete;
// done(false) removes it if it is still there, so that an interrupted or
// failed export leaves no partial file behind.
func exportOutput(e *env, path string) (io.Writer, func(ok bool) error, error) {
	if path == "" || path == "-" {
		return e.stdout, func(bool) error { return nil }, nil
	}
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*.part")
	if err != nil {
		return nil, nil, fmt.Errorf("export: %w", err)
	}
	closed := false
	return f, func(ok bool) error {
		if closed {
			return nil
		}
		closed = true
		err := f.Close()
		if ok && err == nil {
			if err = os.Chmod(f.Name(), 0o644); err == nil {
				err = os.Rename(f.Name(), path)
			}
		}
		if !ok || err != nil {
			os.Remove(f.Name())
		}
		return err
	}, nil
}

// indexWithProgress brings the full-text index up to date before a search,
// with a bar while it catches up (after an upgrade, or a large import).
func indexWithProgress(ctx context.Context, e *env, st *store.Store) error {
	bar := newProgress(e, "indexing for search")
	err := st.IndexNow(store.WithProgress(ctx, bar.progress()))
	bar.finish()
	if ctx.Err() != nil && errors.Is(err, ctx.Err()) {
		// Each chunk moves the index's watermark as it commits.
		return interruptedf("interrupted while indexing for search, before any result: what was indexed is kept, and the next search goes on from there")
	}
	return err
}

// printJSONLine writes v as one line of JSON.
func printJSONLine(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

// msSince is the time since start in milliseconds, to 0.1 ms.
func msSince(start time.Time) float64 {
	return float64(time.Since(start).Microseconds()/100) / 10
}

// countingReader tells bar how much of total has been read.
type countingReader struct {
	r     io.Reader
	bar   *progressBar
	read  int64
	total int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.read += int64(n)
	c.bar.set(c.read, max(c.total, c.read))
	return n, err
}

// importChunk is how many deliveries an import hands the writer at a time.
const importChunk = 1000

func eventsImport(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "events import", "events import [--json] FILE (an export; - for stdin)")
	db := fs.String("db", defaultDB(e), "SQLite file to import into, created if missing (or HOOKTAP_DB)")
	jsonOut := fs.Bool("json", false, "print the summary as one JSON line")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef("events import needs one file (from hooktap events export), or - for stdin")
	}
	// The file is checked whole before anything is written.
	var open func() (io.ReadCloser, error)
	var size int64
	if pos[0] == "-" {
		data, err := io.ReadAll(e.stdin)
		if err != nil {
			return fmt.Errorf("read stdin: %w", err)
		}
		size = int64(len(data))
		open = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil }
	} else {
		if fi, err := os.Stat(pos[0]); err == nil {
			size = fi.Size()
		}
		open = func() (io.ReadCloser, error) { return os.Open(pos[0]) }
	}
	r, err := open()
	if err != nil {
		return fmt.Errorf("import: %w", err)
	}
	n := 0
	check := newProgress(e, "checking (bytes)")
	err = store.ReadRecords(&countingReader{r: r, bar: check, total: size}, func(*store.Delivery) error {
		n++
		return ctx.Err()
	})
	check.finish()
	r.Close()
	if ctx.Err() != nil && errors.Is(err, ctx.Err()) {
		return interruptedf("interrupted while checking %s, at line %s: nothing imported", pos[0], comma(int64(n)))
	}
	if errors.Is(err, store.ErrHAR) {
		return usageError{err.Error()}
	}
	if err != nil {
		return fmt.Errorf("import %s: %w (nothing imported)", pos[0], err)
	}

	st, err := store.Open(ctx, *db)
	if err != nil {
		return err
	}
	defer st.Close()
	start := time.Now()
	bar := newProgress(e, "importing")
	defer bar.finish()
	var read int64
	if r, err = open(); err != nil {
		return fmt.Errorf("import: %w", err)
	}
	defer r.Close()
	var total store.ImportStats
	chunk := make([]*store.Delivery, 0, importChunk)
	flush := func() error {
		st, err := st.Import(ctx, chunk)
		total.Deliveries += st.Deliveries
		total.Attempts += st.Attempts
		total.Skipped += st.Skipped
		read += int64(len(chunk))
		bar.set(read, int64(n))
		chunk = chunk[:0]
		return err
	}
	err = store.ReadRecords(r, func(d *store.Delivery) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		chunk = append(chunk, d)
		if len(chunk) == importChunk {
			return flush()
		}
		return nil
	})
	if err == nil {
		err = flush()
	}
	bar.finish()
	if ctx.Err() != nil && errors.Is(err, ctx.Err()) {
		return importInterrupted(total, n)
	}
	if err != nil {
		return err
	}
	if *jsonOut {
		return printJSONLine(e.stdout, map[string]any{"type": "import", "deliveries": total.Deliveries, "attempts": total.Attempts,
			"skipped": total.Skipped, "db": st.Path(), "duration_ms": msSince(start)})
	}
	fmt.Fprintf(e.stdout, "imported %d deliveries and %d attempts into %s (%d already there)\n",
		total.Deliveries, total.Attempts, st.Path(), total.Skipped)
	return nil
}

// importInterrupted says how far an interrupted import got: total is what
// the store committed (Import waits for what it submitted), of n lines.
func importInterrupted(total store.ImportStats, n int) error {
	done := total.Deliveries + total.Skipped
	there := ""
	if total.Skipped > 0 {
		there = fmt.Sprintf(", %s already there", comma(int64(total.Skipped)))
	}
	return interruptedf("interrupted after %s of %s %s: %s %s imported%s (import the file again to finish; ids already there are skipped)",
		comma(int64(done)), comma(int64(n)), plural(n, "line", "lines"),
		comma(int64(total.Deliveries)), plural(total.Deliveries, "delivery", "deliveries"), there)
}
