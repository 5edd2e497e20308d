package main

import (
	"context"
	"errors"

	"github.com/hooktap/hooktap/inspector/replay"
	"github.com/hooktap/hooktap/inspector/store"
	"github.com/hooktap/hooktap/tui"
)

// cmdTUI browses a store in the terminal UI, with no relay.
func cmdTUI(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "tui", "tui [--db FILE] [--secret S]")
	db := dbFlag(fs, e)
	secret := fs.String("secret", envOr(e, "HOOKTAP_SECRET", ""), "signing secret for resends (or HOOKTAP_SECRET)")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usagef("tui takes no arguments, got %q", pos[0])
	}
	if !isTerminal(e.stdout) {
		return errors.New("tui needs a terminal; use 'hooktap events list' to print deliveries")
	}
	st, err := store.OpenExisting(ctx, *db)
	if err != nil {
		return err
	}
	defer st.Close()
	e, closeLog := logToFile(e, *db)
	defer closeLog()
	sender := &replay.Sender{Store: st, Secret: *secret}
	return tui.Run(ctx, tuiOptions(e, st, nil, sender), e.stdin, e.stdout)
}
