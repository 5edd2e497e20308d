package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/hooktap/hooktap/inspector/store"
)

// waitPoll is how often wait looks at the store. The store belongs to
// another process (listen or dev), so there is nothing to be told by; a
// query on the seq index every 100 ms costs a few microseconds.
const waitPoll = 100 * time.Millisecond

// cmdWait waits until a delivery matching the filters is recorded: the
// way a CI script waits for a webhook without sleeping.
func cmdWait(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "wait", "wait [--for GLOB] [--entity-id E] [--status 2xx] [--since 5m] [--timeout 30s] [--db FILE] [--json]")
	db := dbFlag(fs, e)
	forAction := fs.String("for", "", "the event to wait for, a glob like payable.* (the same as --action)")
	timeout := fs.Duration("timeout", 30*time.Second, "give up after this long (exit 1); 0 waits for ever")
	jsonOut := fs.Bool("json", false, "print the delivery as a JSON line")
	var f filterFlags
	f.register(fs)
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if *forAction != "" {
		if f.q.Action != "" && f.q.Action != *forAction {
			return usagef("--for and --action name the same thing; give one")
		}
		f.q.Action = *forAction
	}
	if *timeout < 0 {
		return usagef("--timeout must not be negative")
	}
	q, err := f.query(pos, time.Now())
	if err != nil {
		return err
	}
	limit := "for ever"
	if *timeout > 0 {
		limit = "up to " + timeout.String()
	}
	// One line on stderr once the wait has begun: a script that starts
	// wait in the background knows when to make the event happen.
	begun := func(exists bool) {
		where := "in " + *db
		if !exists {
			where = "in " + *db + ", which does not exist yet"
		}
		note := ""
		if f.hint != "" {
			note = "; note: " + f.hint
		}
		fmt.Fprintf(e.stderr, "hooktap: waiting for a delivery %s %s (%s)%s\n", describeQuery(q), where, limit, note)
	}
	d, err := waitFor(ctx, *db, q, f.since != "", *timeout, begun)
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return fmt.Errorf("no delivery %s was recorded within %s", describeQuery(q), *timeout)
	case errors.Is(err, context.Canceled): // ctrl-C
		return interruptedf("interrupted before a delivery %s was recorded", describeQuery(q))
	case err != nil:
		return err
	}
	if *jsonOut {
		return json.NewEncoder(e.stdout).Encode(d)
	}
	writeTable(printable{e.stdout}, termWidth(e), []*store.Delivery{d}, time.Now())
	return nil
}

// waitFor polls the store at path until a delivery matches q, and returns
// the first one to arrive. Without since, only deliveries recorded after
// it starts count; they are told by the store's seq, not by the clock, so
// that a relay whose clock differs from ours changes nothing. A store that
// does not exist yet (listen is still starting) is waited for too. The
// timeout (0: none) bounds the waiting, not the looking: what is recorded
// already is found however short it is, and the store is read once more
// when it ends.
func waitFor(ctx context.Context, path string, q store.Query, since bool, timeout time.Duration, begun func(exists bool)) (*store.Delivery, error) {
	var expired <-chan time.Time
	if timeout > 0 {
		t := time.NewTimer(timeout)
		defer t.Stop()
		expired = t.C
	}
	last := false // the timeout has passed: one more look, then give up
	var st *store.Store
	defer func() {
		if st != nil {
			st.Close()
		}
	}()
	tick := time.NewTicker(waitPoll)
	defer tick.Stop()
	fresh := false // whether the store was created after we started
	for {
		if st == nil {
			s, err := store.OpenExisting(ctx, path)
			switch {
			case err == nil:
				st = s
				if !since && !fresh {
					newest, err := st.List(ctx, store.Query{Limit: 1})
					if err != nil {
						return nil, err
					}
					if len(newest) > 0 {
						q.After = newest[0].Seq
					}
				}
				if !fresh {
					begun(true)
				}
			case errors.Is(err, store.ErrNoStore):
				if !fresh {
					begun(false)
				}
				fresh = true
			case ctx.Err() != nil:
				return nil, ctx.Err()
			default:
				return nil, err
			}
		}
		if st != nil {
			q.Limit = 50
			ds, err := st.List(ctx, q)
			if err != nil && ctx.Err() == nil {
				return nil, err
			}
			if len(ds) > 0 {
				return ds[len(ds)-1], nil // the oldest of them: the first to arrive
			}
		}
		if last {
			return nil, context.DeadlineExceeded
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-expired:
			last = true
		case <-tick.C:
		}
	}
}

// describeQuery says in words which deliveries q selects, for the timeout
// message.
func describeQuery(q store.Query) string {
	var parts []string
	add := func(name, v string) {
		if v != "" {
			parts = append(parts, name+" "+v)
		}
	}
	add("for", q.Action)
	add("of type", q.ObjectType)
	add("for entity", q.EntityID)
	add("with status", q.Status.String())
	add("matching", q.Search)
	if len(parts) == 0 {
		return "of any kind"
	}
	return strings.Join(parts, ", ")
}
