package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode"
)

// cmdHealthcheck asks a relay's /healthz and exits 0 when it answers 2xx:
// the container image has no curl, so its HEALTHCHECK runs this.
func cmdHealthcheck(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "healthcheck", "healthcheck [URL]    (default http://127.0.0.1:8789/healthz; exit 0 when it answers 2xx)")
	timeout := fs.Duration("timeout", 3*time.Second, "how long to wait for the answer")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	target := "http://127.0.0.1:8789/healthz"
	switch {
	case len(pos) > 1:
		return usagef("healthcheck takes one URL")
	case len(pos) == 1:
		target = pos[0]
	}
	if u, err := url.Parse(target); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return usagef("bad URL %q: want http://HOST:PORT/healthz", target)
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
	if err != nil {
		return usageError{err.Error()}
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("unhealthy: %w", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
	if resp.StatusCode/100 != 2 {
		// A relay says why in one line (a cluster node without a majority).
		why, _, _ := strings.Cut(strings.TrimSpace(string(body)), "\n")
		if len(why) > 200 || strings.IndexFunc(why, func(r rune) bool { return !unicode.IsPrint(r) }) >= 0 {
			why = ""
		}
		if why != "" {
			why = ": " + why
		}
		return fmt.Errorf("unhealthy: %s answered %s%s", target, resp.Status, why)
	}
	fmt.Fprintln(e.stdout, "healthy:", resp.Status)
	return nil
}
