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
	if _, err := parse(fs, args); err != nil {
		return err
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
		base = "http://" + ln.Addr().String()
	}
	fmt.Fprintf(e.stdout, "hooktap relay %s listening on %s\n  ingress: %s/h/<channel>\n", buildVersion(), ln.Addr(), base)
	start := time.Now()
	err = srv.Serve(ctx, ln)
	log.Info("relay stopped", "uptime", time.Since(start).Round(time.Second))
	if err == http.ErrServerClosed {
		err = nil
	}
	return err
}
