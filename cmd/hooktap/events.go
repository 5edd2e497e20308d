package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"strings"
	"time"

	"github.com/hooktap/hooktap/inspector/store"
)

// eventsCommands are events' subcommands, for its help and completion.
var eventsCommands = [][2]string{
	{"list", "list recorded deliveries, newest first, filtered"},
	{"show", "show one delivery: request, answer, every attempt"},
	{"export", "write deliveries as JSON lines (or HAR) to stdout"},
	{"import", "read an export back, idempotently by id"},
	{"prune", "delete old deliveries: --keep AGE, --max-deliveries N"},
	{"save", "write deliveries as a fixture file, for trigger --fixture"},
}

func cmdEvents(ctx context.Context, e *env, args []string) error {
	if len(args) == 0 {
		return usagef("events needs a subcommand: list, show, export, import, prune or save (see hooktap events -h)")
	}
	switch args[0] {
	case "-h", "-help", "--help", "help":
		if args[0] == "help" && len(args) > 1 {
			return cmdEvents(ctx, e, []string{args[1], "-h"})
		}
		fmt.Fprintf(e.stdout, "Usage: hooktap events <subcommand> [flags]\n\nSubcommands:\n")
		for _, c := range eventsCommands {
			fmt.Fprintf(e.stdout, "  %-7s %s\n", c[0], c[1])
		}
		fmt.Fprintln(e.stdout, "\nRun 'hooktap events <subcommand> -h' for its flags.")
		return nil
	case "list", "ls":
		return eventsList(ctx, e, args[1:])
	case "show":
		return eventsShow(ctx, e, args[1:])
	case "export":
		return eventsExport(ctx, e, args[1:])
	case "import":
		return eventsImport(ctx, e, args[1:])
	case "prune":
		return eventsPrune(ctx, e, args[1:])
	case "save":
		return eventsSave(ctx, e, args[1:])
	}
	names := []string{"list", "ls"}
	for _, c := range eventsCommands[1:] {
		names = append(names, c[0])
	}
	if near := nearest(args[0], names); near != "" {
		return usagef("unknown events subcommand %q: did you mean %q? (see hooktap events -h)", args[0], near)
	}
	return usagef("unknown events subcommand %q: use list, show, export, import, prune or save", args[0])
}

// filterFlags are the flags that select deliveries (list and export).
type filterFlags struct {
	q      store.Query
	since  string
	search string
	hint   string // store.FilterHint of the filter words, set by query
}

func (f *filterFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.q.ObjectType, "object-type", "", "only this object type, e.g. payable")
	fs.StringVar(&f.q.Action, "action", "", "only actions matching this glob, e.g. payable.*")
	fs.StringVar(&f.q.EntityID, "entity-id", "", "only this entity")
	fs.Var(&f.q.Status, "status", "only this status: 2xx, 4xx, 5xx, error, pending or a code")
	fs.StringVar(&f.since, "since", "", "only deliveries received since: 15m, 2h, 3d or a date (2026-11-01)")
	fs.StringVar(&f.search, "search", "", "only deliveries whose body or headers contain these words")
}

// query checks the flags and merges them with a filter given as positional
// words in the filter language (type:payable status:5xx some text); the
// flags win.
func (f *filterFlags) query(pos []string, now time.Time) (store.Query, error) {
	q, err := store.ParseFilter(strings.Join(pos, " "), now)
	if err != nil {
		return q, usageError{err.Error()}
	}
	f.hint = store.FilterHint(strings.Join(pos, " "))
	set := func(dst *string, v string) {
		if v != "" {
			*dst = v
		}
	}
	set(&q.ObjectType, f.q.ObjectType)
	set(&q.Action, f.q.Action)
	set(&q.EntityID, f.q.EntityID)
	if !f.q.Status.IsZero() {
		q.Status = f.q.Status
	}
	set(&q.Search, f.search)
	if q.Action != "" {
		if _, err := globOK(q.Action); err != nil {
			return q, usageError{err.Error()}
		}
	}
	if f.since != "" {
		if q.Since, err = store.ParseSince(f.since, now); err != nil {
			return q, badFlag("since", f.since, err)
		}
	}
	return q, nil
}

// globOK checks a glob's brackets, which SQLite would otherwise take as
// matching nothing.
func globOK(g string) (bool, error) {
	if strings.Count(g, "[") != strings.Count(g, "]") {
		return false, fmt.Errorf("bad --action %q: unbalanced [ ]", g)
	}
	return true, nil
}

// readStore opens an existing store for a command that only reads it. A
// store that cannot be written (on a read-only disk, another user's) is
// opened read-only: all it loses is indexing for search.
func readStore(ctx context.Context, path string) (*store.Store, error) {
	s, err := openStore(ctx, path)
	if err == nil || errors.Is(err, store.ErrNoStore) {
		return s, err
	}
	if ro, rerr := store.OpenReadOnly(ctx, path); rerr == nil {
		return ro, nil
	}
	return nil, err
}

// openStore opens an existing store for reading commands, with a hint when
// there is none.
func openStore(ctx context.Context, path string) (*store.Store, error) {
	s, err := store.OpenExisting(ctx, path)
	if errors.Is(err, store.ErrNoStore) {
		return nil, fmt.Errorf("%w (nothing recorded yet: run hooktap dev or listen, or pass --db / HOOKTAP_DB)", err)
	}
	return s, err
}
