package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"
)

// runLines runs the agent with its lines (--no-tui, --json) on stdout until
// ctx ends. As in the terminal UI, a stop (ctrl-C, SIGTERM) with deliveries
// in flight says what it waits for, and a ctrl-C after it quits at once. A
// second SIGTERM still waits: a supervisor that repeats it (or a script
// stopping an agent that is stopping already) wants the drain; one that
// cannot wait sends SIGKILL.
func runLines(ctx context.Context, e *env, r *agentRun, rep *reporter) error {
	// main's signal.NotifyContext ends ctx on the first signal and drops
	// the others: counted here from the start, the first is the one that
	// ended ctx, and a SIGINT after it means "now".
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sigs)
	done := make(chan error, 1)
	go func() { done <- r.agent.Run(ctx) }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
	}
	if n := r.agent.InFlight(); n > 0 {
		rep.stopping(n)
	}
	for seen := 0; ; {
		select {
		case err := <-done:
			return err
		case sig := <-sigs:
			if seen++; seen >= 2 && sig == os.Interrupt {
				quitNow(e.stderr, r.agent.InFlight())
			}
		}
	}
}

// stoppingLine says, with --json, that the agent stops once the n
// deliveries in flight to the app are answered and acked.
type stoppingLine struct {
	Type     string `json:"type"`
	InFlight int    `json:"in_flight"`
}

// stopping says what the agent waits for before it stops, and how not to.
func (r *reporter) stopping(n int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.json {
		r.encode.Encode(stoppingLine{Type: "stopping", InFlight: n})
		return
	}
	fmt.Fprintf(r.w, "%s  stopping: waiting for %d %s in flight to the app (Ctrl-C again to quit now)\n",
		clock(time.Now()), n, plural(n, "delivery", "deliveries"))
}

// quitNow ends the process at once, when the user quit a second time while
// the agent finished n deliveries in flight, and says so on w. They are not
// acked: the relay keeps them in its buffer and sends them again when an
// agent of this store connects next (at least once, as the README promises;
// the app may see one twice). Nothing else is waited for: the store acks
// nothing before its records are committed, and it, dev's embedded relay
// and its buffer are crash-safe, as after a kill.
func quitNow(w io.Writer, n int) {
	if n > 0 { // else they finished meanwhile
		fmt.Fprintf(w, "hooktap: quit with %d %s in flight to the app, not acknowledged: the relay sends %s again when hooktap runs next with this --db\n",
			n, plural(n, "delivery", "deliveries"), plural(n, "it", "them"))
	}
	os.Exit(130)
}
