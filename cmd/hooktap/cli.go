package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime/debug"
	"runtime/pprof"
	"strings"

	"github.com/hooktap/hooktap/inspector/store"
)

// version is set with -ldflags "-X main.version=..."; otherwise it comes
// from the build info.
var version = ""

func buildVersion() string {
	if version != "" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "dev"
}

// usageError marks errors in how hooktap was called (exit code 2).
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error { return usageError{fmt.Sprintf(format, args...)} }

// env is what commands get from the outside world.
type env struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	getenv         func(string) string
}

type command struct {
	name    string
	summary string
	run     func(ctx context.Context, e *env, args []string) error
}

func commands() []command {
	return []command{
		{"dev", "relay, agent and UI in one process on localhost", cmdDev},
		{"listen", "connect to a relay and forward its deliveries to your app", cmdListen},
		{"relay", "run a relay that accepts webhooks and pushes them to agents", cmdRelay},
		{"channels", "create, list, delete channels of a team relay, rotate their tokens", cmdChannels},
		{"events", "list, show, export and import recorded deliveries", cmdEvents},
		{"tui", "browse recorded deliveries in the terminal UI, with no relay", cmdTUI},
		{"web", "serve the web inspector over a store, with no relay", cmdWeb},
		{"replay", "send a recorded delivery again, byte for byte", cmdReplay},
		{"resend", "send a recorded delivery again, re-signed (optionally edited)", cmdResend},
		{"provider", "emulate Monite: its webhook API, signed deliveries, retries, a delivery log", cmdProvider},
		{"trigger", "send a sample Monite event, signed (--list shows them)", cmdTrigger},
		{"verify", "check a recorded delivery's signature with a secret", cmdVerify},
		{"version", "print the version", func(_ context.Context, e *env, _ []string) error {
			fmt.Fprintln(e.stdout, "hooktap", buildVersion())
			return nil
		}},
	}
}

func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	e := &env{stdin: stdin, stdout: stdout, stderr: stderr, getenv: os.Getenv}
	// For developers: HOOKTAP_CPUPROFILE=prefix writes prefix.<pid>, for
	// go tool pprof.
	if prefix := e.getenv("HOOKTAP_CPUPROFILE"); prefix != "" {
		if f, err := os.Create(fmt.Sprintf("%s.%d", prefix, os.Getpid())); err == nil {
			if pprof.StartCPUProfile(f) == nil {
				defer func() { pprof.StopCPUProfile(); f.Close() }()
			}
		}
	}
	if len(args) == 0 {
		usage(stderr)
		return usagef("no command given")
	}
	name := args[0]
	switch name {
	case "help", "-h", "--help", "-help":
		usage(stdout)
		return nil
	case "--version", "-version", "-v":
		name = "version"
	}
	for _, c := range commands() {
		if c.name == name {
			err := c.run(ctx, e, args[1:])
			if errors.Is(err, flag.ErrHelp) {
				return nil
			}
			return err
		}
	}
	return usagef("unknown command %q (see hooktap help)", name)
}

func usage(w io.Writer) {
	fmt.Fprintf(w, "hooktap %s: a local tunnel and inspector for webhooks\n\nUsage: hooktap <command> [flags]\n\nCommands:\n", buildVersion())
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-9s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w, "\nRun 'hooktap <command> -h' for a command's flags.")
}

// newFlags returns a flag set that reports errors instead of exiting.
func newFlags(e *env, name, synopsis string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	fs.Usage = func() {
		fmt.Fprintf(e.stderr, "Usage: hooktap %s\n\nFlags:\n", synopsis)
		fs.PrintDefaults()
	}
	return fs
}

// parse parses flags that may come before, between or after positional
// arguments, and returns the positional ones.
func parse(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, err
			}
			return nil, usageError{err.Error()}
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		if args[0] == "--" {
			return append(pos, args[1:]...), nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

// dataDir is where hooktap keeps its files: $XDG_DATA_HOME/hooktap or
// ~/.local/share/hooktap.
func dataDir(e *env) string {
	if d := e.getenv("XDG_DATA_HOME"); d != "" {
		return filepath.Join(d, "hooktap")
	}
	if home, err := os.UserHomeDir(); err == nil {
		return filepath.Join(home, ".local", "share", "hooktap")
	}
	return ".hooktap"
}

// defaultDB is the store path when --db is not given: $HOOKTAP_DB, else in
// the data directory.
func defaultDB(e *env) string {
	if p := e.getenv("HOOKTAP_DB"); p != "" {
		return p
	}
	return filepath.Join(dataDir(e), "hooktap.db")
}

// envOr returns the environment variable's value, or def.
func envOr(e *env, name, def string) string {
	if v := e.getenv(name); v != "" {
		return v
	}
	return def
}

// newLogger logs to w at info level, or debug when verbose.
func newLogger(w io.Writer, verbose bool) *slog.Logger {
	level := slog.LevelWarn
	if verbose {
		level = slog.LevelDebug
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: level}))
}

// splitList splits a comma-separated flag value.
func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// dbFlag registers --db, the store file of a command that reads recorded
// deliveries.
func dbFlag(fs *flag.FlagSet, e *env) *string {
	return fs.String("db", defaultDB(e), "SQLite file of recorded deliveries (or HOOKTAP_DB)")
}

// printable writes to a terminal what a webhook's sender may have chosen
// (event names, paths, headers, bodies, an app's answer) with control
// characters made harmless (store.Printable). Each Write must hold whole
// characters, as Fprintf's do.
type printable struct{ w io.Writer }

func (p printable) Write(b []byte) (int, error) {
	if _, err := io.WriteString(p.w, store.Printable(string(b))); err != nil {
		return 0, err
	}
	return len(b), nil
}
