package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/hooktap/hooktap/inspector/store"
)

func eventsExport(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "events export", "events export [--format json|har] [filters] > FILE")
	db := dbFlag(fs, e)
	format := fs.String("format", "json", "json (hooktap's lossless JSON lines, for import) or har (HAR 1.2)")
	limit := fs.Int("limit", 0, "only the newest N matches (0: all); written oldest first either way")
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
	st, err := openStore(ctx, *db)
	if err != nil {
		return err
	}
	defer st.Close()
	if *format == "har" {
		_, err = st.ExportHAR(ctx, e.stdout, q, buildVersion())
	} else {
		_, err = st.Export(ctx, e.stdout, q)
	}
	if err != nil {
		return fmt.Errorf("export: %w", err)
	}
	return nil
}

// importChunk is how many deliveries an import hands the writer at a time.
const importChunk = 1000

func eventsImport(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "events import", "events import FILE (an export; - for stdin)")
	db := fs.String("db", defaultDB(e), "SQLite file to import into, created if missing (or HOOKTAP_DB)")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef("events import needs one file (from hooktap events export), or - for stdin")
	}
	// The file is checked whole before anything is written.
	var open func() (io.ReadCloser, error)
	if pos[0] == "-" {
		data, err := io.ReadAll(e.stdin)
		if err != nil {
			return fmt.Errorf("read stdin: %w", err)
		}
		open = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil }
	} else {
		open = func() (io.ReadCloser, error) { return os.Open(pos[0]) }
	}
	r, err := open()
	if err != nil {
		return fmt.Errorf("import: %w", err)
	}
	n := 0
	err = store.ReadRecords(r, func(*store.Delivery) error { n++; return nil })
	r.Close()
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
		chunk = chunk[:0]
		return err
	}
	err = store.ReadRecords(r, func(d *store.Delivery) error {
		chunk = append(chunk, d)
		if len(chunk) == importChunk {
			return flush()
		}
		return nil
	})
	if err == nil {
		err = flush()
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "imported %d deliveries and %d attempts into %s (%d already there)\n",
		total.Deliveries, total.Attempts, st.Path(), total.Skipped)
	return nil
}
