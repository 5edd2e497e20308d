package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/hooktap/hooktap/relay"
)

func cmdRelay(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "relay", "relay --addr HOST:PORT --data DIR [flags]")
	addr := fs.String("addr", "127.0.0.1:8789", "address to listen on")
	data := fs.String("data", "", "directory for the relay's buffer (default: the user's data directory)")
	publicURL := fs.String("public-url", "", "base URL senders reach this relay at, when behind a proxy")
	timeout := fs.Duration("response-timeout", relay.DefaultResponseTimeout, "how long a sender waits for the app's answer")
	offline := fs.Int("offline-status", http.StatusAccepted, "answer when no agent takes a delivery: 202 (kept) or 503 (sender retries)")
	maxBody := fs.Int64("max-body", relay.DefaultMaxBody, "largest accepted request body in bytes")
	ttl := fs.Duration("buffer-ttl", relay.DefaultBufferTTL, "how long the relay keeps deliveries")
	bufMax := fs.Int("buffer-max", 0, "deliveries kept per channel (0: no limit)")
	window := fs.Int("window", relay.DefaultWindow, "deliveries in flight per agent before new ones are queued on disk")
	verbose := fs.Bool("verbose", false, "log debug detail")
	adminToken := fs.String("admin-token", envOr(e, "HOOKTAP_ADMIN_TOKEN", ""), "team mode: the admin `token` for 'hooktap channels'; agents then need channel tokens (or HOOKTAP_ADMIN_TOKEN)")
	metricsToken := fs.String("metrics-token", envOr(e, "HOOKTAP_METRICS_TOKEN", ""), "team mode: a `token` that reads /metrics besides the admin token (or HOOKTAP_METRICS_TOKEN)")
	rate := fs.String("rate", "", "per-channel rate limit, e.g. 50/s or 600/m; beyond it senders get 429 (default: none)")
	rateBurst := fs.Int("rate-burst", 0, "deliveries a channel may take at once under --rate (default: one second's worth)")
	tlsCert := fs.String("tls-cert", "", "PEM certificate `file`: serve HTTPS and WSS (with --tls-key)")
	tlsKey := fs.String("tls-key", "", "PEM private key `file` for --tls-cert")
	if _, err := parse(fs, args); err != nil {
		return err
	}
	perSec, err := relay.ParseRate(*rate)
	if err != nil {
		return usageError{"--rate: " + err.Error()}
	}
	if (*tlsCert == "") != (*tlsKey == "") {
		return usagef("--tls-cert and --tls-key go together")
	}
	if *adminToken != "" && len(*adminToken) < 16 {
		return usagef("--admin-token must be at least 16 characters (try: openssl rand -hex 24)")
	}
	if *metricsToken != "" && *adminToken == "" {
		return usagef("--metrics-token needs team mode (--admin-token): in open mode /metrics is open to all")
	}
	if *metricsToken != "" && len(*metricsToken) < 16 {
		return usagef("--metrics-token must be at least 16 characters (try: openssl rand -hex 24)")
	}
	if *data == "" {
		*data = dataDir(e) + "/relay"
	}
	log := newLogger(e.stderr, *verbose)
	srv, err := relay.New(ctx, relay.Config{
		DataDir:         *data,
		PublicURL:       *publicURL,
		ResponseTimeout: *timeout,
		OfflineStatus:   *offline,
		MaxBody:         *maxBody,
		BufferTTL:       *ttl,
		BufferMax:       *bufMax,
		Window:          *window,
		AdminToken:      *adminToken,
		MetricsToken:    *metricsToken,
		Rate:            perSec,
		RateBurst:       *rateBurst,
		TLSCert:         *tlsCert,
		TLSKey:          *tlsKey,
		Version:         buildVersion(),
		Logger:          log,
	})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		srv.Close()
		return fmt.Errorf("listen: %w", err)
	}
	base := *publicURL
	if base == "" {
		scheme := "http://"
		if *tlsCert != "" {
			scheme = "https://"
		}
		base = scheme + ln.Addr().String()
	}
	fmt.Fprintf(e.stdout, "hooktap relay %s listening on %s\n  ingress: %s/h/<channel>\n", buildVersion(), ln.Addr(), base)
	if *adminToken != "" {
		fmt.Fprintf(e.stdout, "  team mode: create channels with hooktap channels create NAME --relay %s\n", base)
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
