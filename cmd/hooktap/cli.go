package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime/debug"
	"runtime/pprof"
	"runtime/trace"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hooktap/hooktap/inspector/catalog"
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

// interruptedError is a command stopped by ctrl-C (or SIGTERM) before it
// was done: main exits 130, as a shell does for a command killed by
// SIGINT. Its message says, in words, how far it got.
type interruptedError struct{ msg string }

func (e interruptedError) Error() string { return e.msg }

func interruptedf(format string, args ...any) error {
	return interruptedError{fmt.Sprintf(format, args...)}
}

// requestsDone is how far a command sending n requests got: "after 1,234
// of 5,000 requests".
func requestsDone(done, n int) string {
	return fmt.Sprintf("after %s of %s %s", comma(int64(done)), comma(int64(n)), plural(n, "request", "requests"))
}

// env is what commands get from the outside world.
type env struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	getenv         func(string) string
	// sawFlags, when set, is told of every flag set a command makes
	// (completion lists the flags this way).
	sawFlags func(*flag.FlagSet)
}

type command struct {
	name    string
	summary string // empty: left out of the help (for scripts)
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
		{"status", "ask a running agent how its relay, app and store are doing", cmdStatus},
		{"wait", "wait until a matching delivery is recorded (for CI scripts)", cmdWait},
		{"config", "show the settings in effect and where each came from (hooktap.toml, profiles)", cmdConfig},
		{"healthcheck", "exit 0 if a relay answers on /healthz (for container health checks)", cmdHealthcheck},
		{"completion", "print a shell completion script: bash, zsh or fish", cmdCompletion},
		{"version", "print the version", cmdVersion},
		{"__complete", "", cmdComplete},
	}
}

func cmdVersion(_ context.Context, e *env, args []string) error {
	pos, err := parse(newFlags(e, "version", "version"), args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usagef("version takes no arguments")
	}
	fmt.Fprintln(e.stdout, "hooktap", buildVersion())
	return nil
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
	// HOOKTAP_TRACE=prefix writes an execution trace, for go tool trace.
	if prefix := e.getenv("HOOKTAP_TRACE"); prefix != "" {
		if f, err := os.Create(fmt.Sprintf("%s.%d", prefix, os.Getpid())); err == nil {
			if trace.Start(f) == nil {
				defer func() { trace.Stop(); f.Close() }()
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
		if len(args) > 1 && name == "help" {
			// help X [Y] is X [Y] -h.
			return run(ctx, append(args[1:len(args):len(args)], "-h"), stdin, stdout, stderr)
		}
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
			// A command that does not say how far it got still says it
			// was interrupted, not "context canceled".
			var ie interruptedError
			if err != nil && ctx.Err() != nil && errors.Is(err, context.Canceled) && !errors.As(err, &ie) {
				return interruptedf("interrupted")
			}
			return err
		}
	}
	if near := nearest(name, append(commandNames(), "help")); near != "" {
		return usagef("unknown command %q: did you mean %q? (see hooktap help)", name, near)
	}
	return usagef("unknown command %q (see hooktap help)", name)
}

func usage(w io.Writer) {
	fmt.Fprintf(w, "hooktap %s: a local tunnel and inspector for webhooks\n\nUsage: hooktap <command> [flags]\n\nCommands:\n", buildVersion())
	width := 0 // the longest name sets the summaries' column
	for _, c := range commands() {
		if c.summary != "" {
			width = max(width, len(c.name))
		}
	}
	for _, c := range commands() {
		if c.summary != "" {
			fmt.Fprintf(w, "  %-*s %s\n", width, c.name, c.summary)
		}
	}
	fmt.Fprintln(w, "\nRun 'hooktap <command> -h' (or 'hooktap help <command>') for a command's flags.")
}

// commandNames lists the commands a user may type (hidden ones too).
func commandNames() []string {
	var names []string
	for _, c := range commands() {
		names = append(names, c.name)
	}
	return names
}

// flagsInfo is what parse needs to know about a command's flag set: where
// its help goes and how it is called.
type flagsInfo struct {
	e        *env
	synopsis string
	config   bool     // the command reads the config file
	sources  []source // where each config key's value came from, once parsed
}

var (
	flagsMu    sync.Mutex
	flagsInfos = map[*flag.FlagSet]flagsInfo{}
)

// newFlags returns a flag set that reports errors instead of exiting.
// parse prints its help on -h, and one line for a bad flag.
func newFlags(e *env, name, synopsis string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard) // parse reports errors, in one line
	fs.Usage = func() {}
	flagsMu.Lock()
	flagsInfos[fs] = flagsInfo{e: e, synopsis: synopsis, config: configCommands[name]}
	flagsMu.Unlock()
	if configCommands[name] {
		fs.String("profile", envOr(e, "HOOKTAP_PROFILE", ""), "`name` of a [profiles.NAME] table in hooktap.toml or ~/.config/hooktap/config.toml (or HOOKTAP_PROFILE)")
	}
	if e.sawFlags != nil {
		e.sawFlags(fs)
	}
	return fs
}

// printHelp writes a command's usage and flags to stdout (asked for, so not
// an error).
func printHelp(fs *flag.FlagSet) {
	flagsMu.Lock()
	info := flagsInfos[fs]
	flagsMu.Unlock()
	if info.e == nil {
		return
	}
	w := info.e.stdout
	fmt.Fprintf(w, "Usage: hooktap %s\n", info.synopsis)
	n := 0
	fs.VisitAll(func(*flag.Flag) { n++ })
	if n > 0 {
		fmt.Fprintf(w, "\nFlags:\n")
		var b strings.Builder
		fs.SetOutput(&b)
		fs.PrintDefaults()
		fs.SetOutput(io.Discard)
		// --name, as the README and the error lines write flags.
		io.WriteString(w, strings.ReplaceAll("\n"+b.String(), "\n  -", "\n  --")[1:])
	}
}

// flagError turns the flag package's error into one line that says where
// help is.
func flagError(fs *flag.FlagSet, err error) error {
	msg := err.Error()
	if name, ok := strings.CutPrefix(msg, "flag provided but not defined: -"); ok {
		msg = "unknown flag --" + name
	} else if name, ok := strings.CutPrefix(msg, "flag needs an argument: -"); ok {
		msg = "--" + name + " needs a value"
	} else if m := badValue.FindStringSubmatch(msg); m != nil {
		msg = fmt.Sprintf("bad --%s %s: %s", m[2], m[1], withoutValue(flagWant(fs.Lookup(m[2]), m[3]), m[1]))
	}
	return usagef("%s (see hooktap %s -h)", msg, fs.Name())
}

// badFlag is a usage error for a flag's value that err, from the parser of
// such values, refuses: the flag, the value once, what to write.
func badFlag(name, value string, err error) error {
	q := strconv.Quote(value)
	return usagef("bad --%s %s: %s", name, q, withoutValue(err.Error(), q))
}

// withoutValue drops the start of a parser's error that names the value
// again (`bad status "5zz": use 2xx, ...`), as the flag error names it.
func withoutValue(reason, quoted string) string {
	rest, ok := strings.CutPrefix(reason, "bad ")
	if !ok {
		return reason
	}
	if i := strings.Index(rest, " "+quoted+": "); i >= 0 && !strings.ContainsAny(rest[:i], ":\"") {
		return rest[i+len(quoted)+3:]
	}
	return reason
}

// badValue matches the flag package's "invalid value "abc" for flag -name:
// reason" (and "invalid boolean value ... for -name").
var badValue = regexp.MustCompile(`^invalid (?:boolean )?value ("(?:[^"\\]|\\.)*") for (?:flag )?-([^:]+): (.*)$`)

// flagWant says what a flag takes, in place of the flag package's bare
// "parse error".
func flagWant(f *flag.Flag, reason string) string {
	if f == nil || reason != "parse error" {
		return reason
	}
	g, _ := f.Value.(flag.Getter)
	if g == nil {
		return reason
	}
	switch g.Get().(type) {
	case bool:
		return "want true or false"
	case time.Duration:
		return "want a duration, e.g. 30s or 5m"
	case int, int64, uint, uint64:
		return "want a whole number"
	case float64:
		return "want a number"
	}
	return reason
}

// parse parses flags that may come before, between or after positional
// arguments, and returns the positional ones. -h prints the command's help
// and returns flag.ErrHelp.
func parse(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				printHelp(fs)
				return nil, err
			}
			return nil, flagError(fs, err)
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, configure(fs)
		}
		if args[0] == "--" {
			return append(pos, args[1:]...), configure(fs)
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

// configure applies the config file to a parsed flag set of a command that
// reads it, and keeps where each value came from for config show.
func configure(fs *flag.FlagSet) error {
	flagsMu.Lock()
	info := flagsInfos[fs]
	flagsMu.Unlock()
	if !info.config {
		return nil
	}
	sources, err := applyConfig(info.e, fs)
	if err != nil {
		return err
	}
	flagsMu.Lock()
	info.sources = sources
	flagsInfos[fs] = info
	flagsMu.Unlock()
	return nil
}

// configSources is where each config key's value in effect came from.
func configSources(fs *flag.FlagSet) []source {
	flagsMu.Lock()
	defer flagsMu.Unlock()
	return flagsInfos[fs].sources
}

// nearest returns the candidate closest to s by edit distance, or "" when
// none is close enough to be what was meant.
func nearest(s string, candidates []string) string {
	if near := catalog.Nearest(s, candidates, 1); len(near) > 0 {
		return near[0]
	}
	return ""
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

// checkAddr checks a HOST:PORT flag before anything listens on it, so
// that nonsense is a usage error (exit 2), not a failure to listen.
func checkAddr(flagName, addr string) error {
	_, port, err := net.SplitHostPort(addr)
	if err == nil {
		_, err = strconv.ParseUint(port, 10, 16)
	}
	if err != nil {
		return usagef("bad --%s %q: want HOST:PORT, e.g. 127.0.0.1:%s (:0 picks a free port)", flagName, addr, examplePort(addr))
	}
	return nil
}

// examplePort is the port to show in an example address: the one given,
// when it is a number, else 8789.
func examplePort(addr string) string {
	if _, err := strconv.ParseUint(addr, 10, 16); err == nil {
		return addr
	}
	if _, port, err := net.SplitHostPort(addr); err == nil {
		if _, err := strconv.ParseUint(port, 10, 16); err == nil {
			return port
		}
	}
	return "8789"
}

// selfCommand is how to run this hooktap in a shell, for the commands it
// prints to paste: "hooktap" when that is what PATH finds, else the path it
// was started by (make run's bin/hooktap), quoted.
func selfCommand() string {
	exe, err := os.Executable()
	if err != nil {
		return "hooktap"
	}
	if found, err := exec.LookPath("hooktap"); err == nil && sameFile(found, exe) {
		return "hooktap"
	}
	path := os.Args[0]
	if !strings.Contains(path, "/") { // found on PATH under another name
		path = exe
	}
	return shellArg(path)
}

// shellArg is s as one word of a shell command: as is when nothing in it
// needs quotes.
func shellArg(s string) string {
	if plainWord.MatchString(s) {
		return s
	}
	return store.ShellWord(s)
}

// plainWord is a shell word that needs no quotes.
var plainWord = regexp.MustCompile(`^[A-Za-z0-9_./+:@%-]+$`)

func sameFile(a, b string) bool {
	fa, errA := os.Stat(a)
	fb, errB := os.Stat(b)
	return errA == nil && errB == nil && os.SameFile(fa, fb)
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
