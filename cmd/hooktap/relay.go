package main

import (
	"context"
	"flag"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/hooktap/hooktap/relay"
)

func cmdRelay(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "relay", "relay --addr HOST:PORT --data DIR [flags]")
	var f relayFlags
	f.register(fs, e)
	if _, err := parse(fs, args); err != nil {
		return err
	}
	cfg, err := f.config(e)
	if err != nil {
		return err
	}
	log := newLogger(e.stderr, f.verbose)
	cfg.Logger = log
	unlock, err := lockRelayData(cfg.DataDir)
	if err != nil {
		return err
	}
	defer unlock()
	// Before joining a cluster: a node whose address is taken stops at
	// once, instead of after the wait for the cluster (up to a minute) and
	// after joining it as a peer that then vanishes.
	ln, err := net.Listen("tcp", f.addr)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	defer ln.Close()
	stopStarting := func() {}
	if f.cluster.on() {
		// Meanwhile the address answers 503 "starting": a node that
		// waits for the others is up, not hung, and takes nothing in.
		if stopStarting, err = relay.Starting(ln, cfg); err != nil {
			return err
		}
		defer stopStarting()
		node, err := f.cluster.start(ctx, cfg, log)
		if err != nil {
			return err
		}
		defer node.Close()
		cfg.Cluster = node
	}
	srv, err := relay.New(ctx, cfg)
	if err != nil {
		return err
	}
	stopStarting() // the relay's server takes ln over
	base := cfg.PublicURL
	if base == "" {
		scheme := "http://"
		if cfg.TLSCert != "" {
			scheme = "https://"
		}
		base = scheme + ln.Addr().String()
	}
	fmt.Fprintf(e.stdout, "hooktap relay %s listening on %s\n  ingress: %s/h/<channel>\n", buildVersion(), ln.Addr(), base)
	if cfg.Cluster != nil {
		fmt.Fprintf(e.stdout, "  backend: %s\n", cfg.Cluster.Describe())
	}
	if cfg.AdminToken != "" {
		fmt.Fprintf(e.stdout, "  team mode: create channels with %s\n", createCommand("NAME", base))
		if e.getenv("HOOKTAP_ADMIN_TOKEN") != cfg.AdminToken {
			// The token came with the flag: the shell the command is
			// pasted in may not have the variable. Never print the token.
			fmt.Fprintln(e.stdout, "    (set HOOKTAP_ADMIN_TOKEN to the token given with --admin-token in the shell you paste it in;"+
				" the flag shows the token in ps: start the relay with HOOKTAP_ADMIN_TOKEN instead)")
		}
		fmt.Fprintf(e.stdout, "  metrics: %s/metrics (Authorization: Bearer <admin or metrics token>)\n", base)
	}
	start := time.Now()
	err = srv.Serve(ctx, ln)
	log.Info("relay stopped", "uptime", time.Since(start).Round(time.Second))
	if err == http.ErrServerClosed {
		err = nil
	}
	return err
}

// relayFlags are the relay's flags.
type relayFlags struct {
	cfg          relay.Config
	addr, rate   string
	verbose      bool
	adminToken   string
	metricsToken string
	cluster      clusterFlags
}

func (f *relayFlags) register(fs *flag.FlagSet, e *env) {
	c := &f.cfg
	fs.StringVar(&f.addr, "addr", "127.0.0.1:8789", "address to listen on")
	fs.StringVar(&c.DataDir, "data", "", "directory for the relay's buffer (default: the user's data directory)")
	fs.StringVar(&c.PublicURL, "public-url", "", "base URL senders reach this relay at, when behind a proxy")
	fs.DurationVar(&c.ResponseTimeout, "response-timeout", relay.DefaultResponseTimeout, "how long a sender waits for the app's answer")
	fs.IntVar(&c.OfflineStatus, "offline-status", http.StatusAccepted, "answer when no agent takes a delivery: 202 (kept) or 503 (sender retries)")
	fs.Int64Var(&c.MaxBody, "max-body", relay.DefaultMaxBody, "largest accepted request body in bytes")
	fs.DurationVar(&c.BufferTTL, "buffer-ttl", relay.DefaultBufferTTL, "how long the relay keeps deliveries")
	fs.IntVar(&c.BufferMax, "buffer-max", 0, "deliveries kept per channel (0: no limit)")
	fs.IntVar(&c.Window, "window", relay.DefaultWindow, "deliveries in flight per agent before new ones are queued on disk")
	fs.BoolVar(&f.verbose, "verbose", false, "log debug detail")
	fs.StringVar(&f.adminToken, "admin-token", envOr(e, "HOOKTAP_ADMIN_TOKEN", ""), "team mode: the admin `token` for 'hooktap channels'; agents then need channel tokens (or HOOKTAP_ADMIN_TOKEN)")
	fs.StringVar(&f.metricsToken, "metrics-token", envOr(e, "HOOKTAP_METRICS_TOKEN", ""), "team mode: a `token` that reads /metrics besides the admin token (or HOOKTAP_METRICS_TOKEN)")
	fs.StringVar(&f.rate, "rate", "", "per-channel rate limit, e.g. 50/s or 600/m; beyond it senders get 429 (default: none)")
	fs.IntVar(&c.RateBurst, "rate-burst", 0, "deliveries a channel may take at once under --rate (default: one second's worth)")
	fs.StringVar(&c.TLSCert, "tls-cert", "", "PEM certificate `file`: serve HTTPS and WSS (with --tls-key)")
	fs.StringVar(&c.TLSKey, "tls-key", "", "PEM private key `file` for --tls-cert")
	f.cluster.register(fs)
}

// checkNumbers refuses number flags the relay would not take (or would
// quietly read as their default) before anything listens: bad usage, exit 2.
func (f *relayFlags) checkNumbers() error {
	c := &f.cfg
	if !relay.ValidOfflineStatus(c.OfflineStatus) {
		return usagef("bad --offline-status %d: use 202 (the relay keeps the delivery) or 503 (the sender retries)", c.OfflineStatus)
	}
	for _, n := range []struct {
		name string
		neg  bool
		v    any
	}{{"max-body", c.MaxBody < 0, c.MaxBody}, {"buffer-max", c.BufferMax < 0, c.BufferMax}, {"window", c.Window < 0, c.Window},
		{"rate-burst", c.RateBurst < 0, c.RateBurst}, {"response-timeout", c.ResponseTimeout < 0, c.ResponseTimeout},
		{"buffer-ttl", c.BufferTTL < 0, c.BufferTTL}} {
		if n.neg {
			return usagef("bad --%s %v: it may not be negative (0 for the default; see hooktap relay -h)", n.name, n.v)
		}
	}
	return nil
}

// config checks the flags and returns the relay's configuration.
func (f *relayFlags) config(e *env) (relay.Config, error) {
	c := f.cfg
	if err := checkAddr("addr", f.addr); err != nil {
		return c, err
	}
	perSec, err := relay.ParseRate(f.rate)
	if err != nil {
		return c, badFlag("rate", f.rate, err)
	}
	if err := f.checkNumbers(); err != nil {
		return c, err
	}
	switch {
	case c.Window > relay.MaxWindow:
		return c, usagef("--window %d: at most %d (what an agent holds at once)", c.Window, relay.MaxWindow)
	case (c.TLSCert == "") != (c.TLSKey == ""):
		return c, usagef("--tls-cert and --tls-key go together")
	case f.adminToken != "" && len(f.adminToken) < 16:
		return c, usagef("--admin-token must be at least 16 characters (try: openssl rand -hex 24)")
	case f.metricsToken != "" && f.adminToken == "":
		return c, usagef("--metrics-token needs team mode (--admin-token): in open mode /metrics is open to all")
	case f.metricsToken != "" && len(f.metricsToken) < 16:
		return c, usagef("--metrics-token must be at least 16 characters (try: openssl rand -hex 24)")
	}
	if err := f.cluster.check(); err != nil {
		return c, err
	}
	if c.DataDir == "" {
		c.DataDir = dataDir(e) + "/relay"
	}
	c.Rate, c.AdminToken, c.MetricsToken, c.Version = perSec, f.adminToken, f.metricsToken, buildVersion()
	return c, nil
}
