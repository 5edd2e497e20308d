package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/hooktap/hooktap/inspector/provider"
)

func cmdProvider(ctx context.Context, e *env, args []string) error {
	if len(args) > 0 && args[0] == "secrets" {
		return cmdProviderSecrets(ctx, e, args[1:])
	}
	fs := newFlags(e, "provider", "provider [--addr 127.0.0.1:8790] [--data DIR] [--token T] [--flavor monite|monk] [--retry-schedule 15s,30s,1m,2m,5m] [--retry-scale 1] [--allow-host NAME]\n       hooktap provider secrets [--data DIR] [--json]")
	addr := fs.String("addr", "127.0.0.1:8790", "address of the emulated Monite API")
	var pf providerFlags
	pf.register(fs, e, "")
	verbose := fs.Bool("verbose", false, "log every subscription change and delivery attempt to stderr")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usagef("provider takes no arguments (did you mean hooktap provider secrets?)")
	}
	cfg, err := pf.config(e)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	cfg.Self = []string{ln.Addr().String()}
	cfg.Logger = newLogger(e.stderr, *verbose)
	p, err := provider.Open(ctx, cfg)
	if err != nil {
		ln.Close()
		return err
	}
	defer p.Close()
	base := "http://" + ln.Addr().String()
	api := fmt.Sprintf("Monite API:  %s/v1  (Authorization: Bearer <%s>, x-monite-version: 2024-05-25)", base, pf.tokenHint())
	if cfg.Flavor == "monk" {
		api = fmt.Sprintf("Monk emulator: subscriptions at %s/v1/webhook_subscriptions  (Authorization: Bearer <%s>)", base, pf.tokenHint())
	}
	fmt.Fprintf(e.stdout, "hooktap provider %s listening on %s\n  %s\n  page:        %s/v1/_emulator/  (subscriptions and the delivery log)\n  state:       %s\n",
		buildVersion(), ln.Addr(), api, base, p.Path())
	return serveProvider(ctx, p, ln)
}

// serveProvider serves p's API on ln and runs its deliverer until ctx ends.
func serveProvider(ctx context.Context, p *provider.Provider, ln net.Listener) error {
	srv := &http.Server{Handler: p.Handler(), ReadHeaderTimeout: 10 * time.Second, ReadTimeout: time.Minute, IdleTimeout: 2 * time.Minute}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	runDone := make(chan error, 1)
	go func() { runDone <- p.Run(ctx) }()
	go func() {
		<-ctx.Done()
		sctx, scancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer scancel()
		srv.Shutdown(sctx)
	}()
	err := srv.Serve(ln)
	cancel()
	<-runDone
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	return err
}

// providerFlags are the emulator's flags that provider and dev share.
type providerFlags struct {
	data, token, schedule, flavor string
	allowHosts                    string
	scale                         float64
}

// register adds the flags under their names in provider; dev prefixes
// --data and --token with provider- (its own are the relay's and the agent's).
func (f *providerFlags) register(fs *flag.FlagSet, e *env, prefix string) {
	fs.StringVar(&f.data, prefix+"data", "", "directory of the emulator's SQLite state (default: the user's data directory)")
	fs.StringVar(&f.token, prefix+"token", envOr(e, "HOOKTAP_PROVIDER_TOKEN", ""), "the only bearer `token` the API accepts (default: any; or HOOKTAP_PROVIDER_TOKEN)")
	fs.StringVar(&f.flavor, prefix+"flavor", "monite", "provider to emulate: monite, or monk (Monk's events, bodies and X-Monk-* headers)")
	fs.StringVar(&f.schedule, "retry-schedule", "15s,30s,1m,2m,5m", "delays before each retry (Monk's: 6 attempts in all)")
	fs.StringVar(&f.allowHosts, prefix+"allow-host", "", "host `names` (comma-separated) the API answers besides IP addresses, localhost and host.docker.internal")
	fs.Float64Var(&f.scale, "retry-scale", 1, "multiply every retry delay, e.g. 0.01 for tests and demos")
}

// tokenHint says which token the API wants, never what it is.
func (f *providerFlags) tokenHint() string {
	if f.token != "" {
		return "the --token"
	}
	return "any token"
}

func (f *providerFlags) config(e *env) (provider.Config, error) {
	sched, err := parseSchedule(f.schedule)
	if err != nil {
		return provider.Config{}, usageError{"--retry-schedule: " + err.Error()}
	}
	if !(f.scale > 0) || f.scale > 1000 {
		return provider.Config{}, usagef("--retry-scale must be above 0 and at most 1000, got %v", f.scale)
	}
	if f.flavor != "monite" && f.flavor != "monk" {
		return provider.Config{}, usagef("--flavor must be monite or monk, got %q", f.flavor)
	}
	if f.data == "" {
		f.data = dataDir(e) + "/provider"
	}
	return provider.Config{DataDir: f.data, Token: f.token, Schedule: sched, Scale: f.scale, Flavor: f.flavor, AllowHosts: splitList(f.allowHosts), UserAgent: "hooktap-provider/" + buildVersion()}, nil
}

// parseSchedule reads "15s,30s,1m": the delays before each retry. An empty
// schedule means no retries.
func parseSchedule(s string) ([]time.Duration, error) {
	out := []time.Duration{}
	for _, part := range splitList(s) {
		d, err := time.ParseDuration(part)
		if err != nil {
			return nil, fmt.Errorf("%q is not a duration like 15s or 2m", part)
		}
		if d < 0 || d > 24*time.Hour {
			return nil, fmt.Errorf("%s: each delay must be from 0 to 24h", part)
		}
		out = append(out, d)
	}
	if len(out) > 20 {
		return nil, fmt.Errorf("at most 20 retries, got %d", len(out))
	}
	return out, nil
}

func cmdProviderSecrets(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "provider secrets", "provider secrets [--data DIR] [--json]")
	data := fs.String("data", dataDir(e)+"/provider", "the emulator's data directory")
	jsonOut := fs.Bool("json", false, "print JSON lines")
	if pos, err := parse(fs, args); err != nil {
		return err
	} else if len(pos) > 0 {
		return usagef("provider secrets takes no arguments")
	}
	subs, err := provider.ReadSubscriptions(ctx, *data)
	if err != nil {
		return err
	}
	enc := json.NewEncoder(e.stdout)
	for _, s := range subs {
		if *jsonOut {
			if err := enc.Encode(s); err != nil {
				return err
			}
			continue
		}
		fmt.Fprintf(printable{e.stdout}, "%s  %-8s %-20s %s  %s\n", s.Secret, s.Status, s.ObjectType, s.ID, s.URL)
	}
	if len(subs) == 0 && !*jsonOut {
		fmt.Fprintln(e.stderr, "no subscriptions yet: create one with POST /v1/webhook_subscriptions")
	}
	return nil
}
