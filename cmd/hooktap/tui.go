package main

import (
	"context"
	"errors"
	"io"
	"log"
	"os"
	"path/filepath"
	"strings"

	"github.com/hooktap/hooktap/inspector/jsonedit"
	"github.com/hooktap/hooktap/inspector/live"
	"github.com/hooktap/hooktap/inspector/replay"
	"github.com/hooktap/hooktap/inspector/store"
	"github.com/hooktap/hooktap/tui"
	"github.com/mattn/go-isatty"
)

// cmdTUI browses a store in the terminal UI, with no relay.
func cmdTUI(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "tui", "tui [--db FILE] [--secret S] [--provider-data DIR]")
	db := dbFlag(fs, e)
	secret := fs.String("secret", envOr(e, "HOOKTAP_SECRET", ""), "signing secret for resends (or HOOKTAP_SECRET)")
	providerData := providerDataFlag(fs, e)
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
	st, err := readStore(ctx, *db)
	if err != nil {
		return err
	}
	defer st.Close()
	e, closeLog := logToFile(e, *db)
	defer closeLog()
	sender := &replay.Sender{Store: st, Secret: *secret, SecretFor: emulatorSecret(ctx, *providerData)}
	return tui.Run(ctx, tuiOptions(e, st, nil, sender), e.stdin, e.stdout)
}

// useTUI reports whether the agent shows the terminal UI: stdout is a
// terminal and neither --no-tui nor --json was given.
func useTUI(e *env, f *agentFlags) bool {
	return !f.noTUI && !f.json && isTerminal(e.stdout)
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && (isatty.IsTerminal(f.Fd()) || isatty.IsCygwinTerminal(f.Fd()))
}

// logFile is stderr while the terminal UI owns the screen.
type logFile struct{ *os.File }

// logPath is where logs go while the terminal UI runs: beside the store.
func logPath(db string) string { return filepath.Join(filepath.Dir(db), "hooktap.log") }

// logToFile returns e with stderr sent to the log file beside db, so that
// no log line lands on the terminal UI, and a func that closes the file.
// The standard library's logger follows. When the file cannot be opened,
// logs are dropped rather than drawn over the UI.
func logToFile(e *env, db string) (*env, func()) {
	if _, ok := e.stderr.(logFile); ok {
		return e, func() {}
	}
	c := *e
	path := logPath(db)
	var f *os.File
	err := os.MkdirAll(filepath.Dir(path), 0o755)
	if err == nil {
		f, err = os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	}
	if err != nil {
		c.stderr = logFile{nil}
		log.SetOutput(io.Discard)
		return &c, func() {}
	}
	c.stderr = logFile{f}
	prev := log.Writer()
	log.SetOutput(f)
	return &c, func() {
		log.SetOutput(prev)
		f.Close()
	}
}

func (l logFile) Write(p []byte) (int, error) {
	if l.File == nil {
		return len(p), nil
	}
	return l.File.Write(p)
}

// runTUI runs the agent in the background and the terminal UI in front.
// Quitting the UI stops the agent; an agent that stops for good (refused
// by the relay) ends the UI and its error is returned.
func runTUI(ctx context.Context, e *env, r *agentRun) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	uiCtx, stopUI := context.WithCancel(ctx)
	defer stopUI()
	agentDone := make(chan error, 1)
	agentStopped := make(chan struct{})
	agentCtx, stopAgent := context.WithCancel(ctx) // not the UI's: it shows the wait
	defer stopAgent()
	go func() {
		defer close(agentStopped)
		err := r.agent.Run(agentCtx)
		if err != nil {
			stopUI()
		}
		agentDone <- err
	}()
	opts := tuiOptions(e, r.store, r.bus, r.sender)
	opts.TryIt = r.example.tryIt
	opts.WebURL, opts.WebProblem = r.webURL, r.webProblem
	for _, w := range r.filterWarnings {
		opts.FilterWarnings = append(opts.FilterWarnings, w.String())
	}
	if r.providerPage != "" {
		opts.ProviderAPI = strings.TrimSuffix(r.providerPage, "/_emulator/")
	}
	// Quitting with deliveries in flight stops the agent and waits for it
	// (it finishes and acks them) with the UI up, saying so.
	opts.InFlight = r.agent.InFlight
	opts.Stop = func() <-chan struct{} { stopAgent(); return agentStopped }
	err := tui.Run(uiCtx, opts, e.stdin, e.stdout)
	if errors.Is(err, tui.ErrQuitNow) {
		quitNow(e.stdout, r.agent.InFlight())
	}
	cancel()
	if aerr := <-agentDone; aerr != nil {
		return aerr
	}
	if errors.Is(err, context.Canceled) {
		err = nil
	}
	return err
}

func tuiOptions(e *env, st *store.Store, bus *live.Bus, sender *replay.Sender) tui.Options {
	return tui.Options{
		Store:  st,
		Bus:    bus,
		Sender: sender,
		Editor: jsonedit.Editor(e.getenv),
		Tmux:   e.getenv("TMUX") != "",
		Self:   selfCommand(),
	}
}
