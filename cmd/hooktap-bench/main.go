// Command hooktap-bench measures hooktap's performance figures and prints
// them as a table (run by `make bench`). Each concern is a section; add
// yours to sections. `-only NAME` runs one section.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/pprof"
	"strings"
	"syscall"
	"text/tabwriter"
)

// section is one group of figures.
type section struct {
	name string
	run  func(ctx context.Context, cfg config, t *table) error
}

// The store section's database (a million deliveries) is used by the
// sections after it: the TUI renders it, and the tunnel's agent records
// into it, as a user's long-lived store.
var sections = []section{
	{"store", benchStore},
	{"tui", benchTUI},
	{"tunnel", benchTunnel},
	{"relay", benchRelayScale},
	{"cluster", benchCluster},
}

// shared is what sections leave for the ones after them.
type shared struct {
	storeDB string   // a filled store, when the store section ran
	cleanup []string // directories to remove at the end
}

// config is what the flags set.
type config struct {
	deliveries int    // store: how many deliveries to generate
	dir        string // where temporary files go
	// tunnelScale scales the tunnel section's deliveries per path (1: as
	// in make bench), for quicker runs while working.
	tunnelScale float64
	log         io.Writer
	shared      *shared
	ab          [2]string // section ab: the two hooktap binaries it compares
}

// figure is one measured number and its target.
type figure struct {
	section, name string
	value         string
	target        string
	ok            *bool // nil: no target
}

// table collects the figures of every section.
type table struct{ rows []figure }

// add records a figure; pass ok nil when there is no target.
func (t *table) add(section, name, value, target string, ok *bool) {
	t.rows = append(t.rows, figure{section, name, value, target, ok})
}

func verdict(ok *bool) string {
	switch {
	case ok == nil:
		return ""
	case *ok:
		return "ok"
	}
	return "MISSED"
}

func (t *table) print(w io.Writer) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "SECTION\tFIGURE\tVALUE\tTARGET\t")
	for _, r := range t.rows {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", r.section, r.name, r.value, r.target, verdict(r.ok))
	}
	tw.Flush()
	fmt.Fprintln(w)
	for _, r := range t.rows {
		line := fmt.Sprintf("%s %s: %s", r.section, r.name, r.value)
		if r.target != "" {
			line += fmt.Sprintf(" (target %s: %s)", r.target, verdict(r.ok))
		}
		fmt.Fprintln(w, line)
	}
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "hooktap-bench:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 && args[0] == appMode {
		return serveApp(ctx, stdout)
	}
	if len(args) > 0 && args[0] == natsMode {
		return serveNATS(ctx, args[1:], stdout)
	}
	if len(args) > 1 && args[0] == proxyMode {
		return serveProxy(ctx, args[1], stdout)
	}
	fs := flag.NewFlagSet("hooktap-bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var names []string
	for _, s := range sections {
		names = append(names, s.name)
	}
	only := fs.String("only", "", "run only this section: "+strings.Join(names, ", ")+", or ab (not run otherwise)")
	cfg := config{log: stderr}
	fs.IntVar(&cfg.deliveries, "deliveries", 1_000_000, "store: deliveries to generate")
	fs.StringVar(&cfg.dir, "dir", "", "directory for temporary files (default: the system's)")
	fs.Float64Var(&cfg.tunnelScale, "tunnel-scale", 1, "tunnel: scale the deliveries sent per path (e.g. 0.25 for a quick run)")
	fs.StringVar(&cfg.ab[0], "a", "", "ab: one hooktap binary")
	fs.StringVar(&cfg.ab[1], "b", "", "ab: the other hooktap binary")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile to this file")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if (cfg.ab[0] != "" || cfg.ab[1] != "") && *only != "ab" {
		return errors.New("-a and -b are for -only ab")
	}
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	cfg.shared = &shared{}
	defer func() {
		for _, dir := range cfg.shared.cleanup {
			os.RemoveAll(dir)
		}
	}()
	var t table
	ran := 0
	run := sections
	if *only == "ab" {
		run = []section{{"ab", benchAB}}
	}
	for _, s := range run {
		if *only != "" && s.name != *only {
			continue
		}
		ran++
		fmt.Fprintf(stderr, "== %s\n", s.name)
		if err := s.run(ctx, cfg, &t); err != nil {
			return fmt.Errorf("%s: %w", s.name, err)
		}
	}
	if ran == 0 {
		return fmt.Errorf("no section %q (have %s)", *only, strings.Join(names, ", "))
	}
	t.print(stdout)
	return nil
}
