package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"time"

	"github.com/hooktap/hooktap/inspector/store"
)

// parseKeep reads a retention age: "30d", "2w", or a Go duration like "12h".
func parseKeep(s string) (time.Duration, error) {
	d, err := store.ParseAge(s)
	if err != nil {
		return 0, fmt.Errorf("bad --keep %q: use an age like 30d, 2w or 12h", s)
	}
	return d, nil
}

// retentionFlags are --keep and --max-deliveries (listen, dev, events prune).
type retentionFlags struct {
	keep string
	max  int64
}

func (f *retentionFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.keep, "keep", "", "delete deliveries older than this: 30d, 2w, 12h")
	fs.Int64Var(&f.max, "max-deliveries", 0, "keep only the newest N deliveries")
}

func (f *retentionFlags) retention() (store.Retention, error) {
	var r store.Retention
	if f.keep != "" {
		d, err := parseKeep(f.keep)
		if err != nil {
			return r, usageError{err.Error()}
		}
		r.MaxAge = d
	}
	if f.max < 0 {
		return r, usagef("--max-deliveries must be positive")
	}
	r.MaxDeliveries = f.max
	return r, nil
}

func eventsPrune(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "events prune", "events prune [--keep 30d] [--max-deliveries N] [--json]")
	db := dbFlag(fs, e)
	var rf retentionFlags
	rf.register(fs)
	jsonOut := fs.Bool("json", false, "print the summary as one JSON line")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usagef("events prune takes no arguments, only --keep and --max-deliveries")
	}
	r, err := rf.retention()
	if err != nil {
		return err
	}
	if r.IsZero() {
		return usagef("events prune needs --keep AGE and/or --max-deliveries N")
	}
	st, err := openStore(ctx, *db)
	if err != nil {
		return err
	}
	defer st.Close()
	start := time.Now()
	bar := newProgress(e, "pruning")
	n, err := st.Prune(store.WithProgress(ctx, bar.progress()), r, time.Now())
	bar.finish()
	if ctx.Err() != nil && errors.Is(err, ctx.Err()) {
		// n counts only deletes that were committed (Prune waits for them).
		return interruptedf("interrupted after pruning %s %s (run events prune again to finish)", comma(n), plural(int(n), "delivery", "deliveries"))
	}
	if err != nil {
		return err
	}
	left, err := st.Count(ctx)
	if err != nil {
		return err
	}
	if *jsonOut {
		return printJSONLine(e.stdout, map[string]any{"type": "prune", "pruned": n, "left": left, "duration_ms": msSince(start)})
	}
	fmt.Fprintf(e.stdout, "pruned %d deliveries, %d left\n", n, left)
	return nil
}

// pruneEvery is how often a running agent applies --keep and
// --max-deliveries.
const pruneEvery = 5 * time.Minute

// startPruning applies the retention flags now and every pruneEvery until
// ctx ends or the returned stop is called; stop waits for a prune under way.
func startPruning(ctx context.Context, st *store.Store, rf retentionFlags, log *slog.Logger) (stop func()) {
	r, err := rf.retention()
	if err != nil || r.IsZero() {
		return func() {}
	}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(pruneEvery)
		defer t.Stop()
		for {
			n, err := st.Prune(ctx, r, time.Now())
			switch {
			case err != nil && ctx.Err() == nil:
				log.Warn("prune the store", "err", err)
			case n > 0:
				log.Debug("pruned the store", "deliveries", n)
			}
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	}()
	return func() {
		cancel()
		<-done
	}
}
