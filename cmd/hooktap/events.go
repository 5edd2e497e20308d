package main

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/hooktap/hooktap/inspector"
)

func cmdEvents(ctx context.Context, e *env, args []string) error {
	if len(args) == 0 {
		return usagef("events needs a subcommand: list")
	}
	switch args[0] {
	case "list", "ls":
		return eventsList(ctx, e, args[1:])
	}
	return usagef("unknown events subcommand %q", args[0])
}

func eventsList(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "events list", "events list [flags]")
	db := fs.String("db", defaultDB(e), "SQLite file of recorded deliveries (or HOOKTAP_DB)")
	limit := fs.Int("limit", 50, "how many deliveries, newest first")
	jsonOut := fs.Bool("json", false, "print JSON lines")
	var q inspector.Query
	fs.StringVar(&q.ObjectType, "object-type", "", "only this object type, e.g. payable")
	fs.StringVar(&q.Action, "action", "", "only actions matching this glob, e.g. payable.*")
	fs.StringVar(&q.EntityID, "entity-id", "", "only this entity")
	fs.StringVar(&q.Status, "status", "", "only this status: 2xx, 4xx, 5xx, error, pending or a code")
	if _, err := parse(fs, args); err != nil {
		return err
	}
	if err := inspector.ParseStatus(q.Status); err != nil {
		return usageError{err.Error()}
	}
	q.Limit = *limit
	store, err := inspector.OpenExisting(ctx, *db)
	if err != nil {
		return err
	}
	defer store.Close()
	ds, err := store.List(ctx, q)
	if err != nil {
		return err
	}
	if *jsonOut {
		enc := json.NewEncoder(e.stdout)
		for _, d := range ds {
			if err := enc.Encode(d); err != nil {
				return err
			}
		}
		return nil
	}
	for _, d := range ds {
		fmt.Fprintln(e.stdout, humanLine(d))
	}
	return nil
}
