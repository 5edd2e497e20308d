package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// benchAB (`-only ab -a OLD -b NEW`, for developers; not in make bench)
// compares two builds of hooktap in the same rounds: `dev` of each beside
// one reverse proxy, and `relay` + `listen` of each beside two, the paths
// taking turns and the two builds swapping places every round. Each
// figure is a ratio to its reference in the same rounds, so the builds'
// ratios can be set side by side on a noisy machine.
func benchAB(ctx context.Context, cfg config, t *table) error {
	if cfg.ab[0] == "" || cfg.ab[1] == "" {
		return errors.New("-a and -b name the two hooktap binaries to compare")
	}
	dir, err := os.MkdirTemp(cfg.dir, "hooktap-bench-ab-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	self, err := os.Executable()
	if err != nil {
		return err
	}
	var stops []func()
	defer func() {
		for _, stop := range stops {
			stop()
		}
	}()
	start := func(marker string, args ...string) (*child, string, error) {
		c, line, err := startChild(ctx, marker, self, args...)
		if err == nil {
			stops = append(stops, c.stop)
		}
		return c, "http://" + strings.TrimPrefix(line, marker), err
	}
	_, appURL, err := start("ADDR ", appMode)
	if err != nil {
		return err
	}
	one, oneURL, err := start("ADDR ", proxyMode, appURL)
	if err != nil {
		return err
	}
	inner, innerURL, err := start("ADDR ", proxyMode, appURL)
	if err != nil {
		return err
	}
	outer, twoURL, err := start("ADDR ", proxyMode, innerURL)
	if err != nil {
		return err
	}
	type build struct {
		name                string
		dev, relay, agent   *child
		devURL, tunnelURL   string
		devPath, tunnelPath *path
	}
	builds := []*build{{name: "a"}, {name: "b"}}
	for i, b := range builds {
		home := filepath.Join(dir, b.name)
		if b.dev, b.devURL, err = startDev(ctx, cfg.ab[i], home, appURL); err != nil {
			return err
		}
		stops = append(stops, b.dev.stop)
		var relayURL string
		if b.relay, relayURL, err = startRelay(ctx, cfg.ab[i], filepath.Join(home, "relay")); err != nil {
			return err
		}
		stops = append(stops, b.relay.stop)
		if b.agent, b.tunnelURL, err = startAgent(ctx, cfg.ab[i], relayURL, "bench", appURL, filepath.Join(home, "agent.db"), "HOOKTAP_FORWARDER=pool"); err != nil {
			return err
		}
		stops = append(stops, b.agent.stop)
	}
	bodies, err := monite()
	if err != nil {
		return err
	}
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64, MaxIdleConns: 128, Proxy: nil}, Timeout: 30 * time.Second}
	for _, u := range []string{oneURL + "/webhooks", twoURL + "/webhooks", builds[0].devURL, builds[1].devURL, builds[0].tunnelURL, builds[1].tunnelURL} {
		load(ctx, client, u, bodies, 4, 500)
	}
	for _, r := range []struct{ c, n int }{{1, 3000}, {32, 30000}} {
		r.n = max(rounds, int(float64(r.n)*cfg.tunnelScale)/rounds*rounds)
		ref1 := newPath(oneURL+"/webhooks", [2]*child{one, nil})
		ref2 := newPath(twoURL+"/webhooks", [2]*child{outer, inner})
		for _, b := range builds {
			b.devPath = newPath(b.devURL, [2]*child{b.dev, nil})
			b.tunnelPath = newPath(b.tunnelURL, [2]*child{b.relay, b.agent})
		}
		for round := range rounds {
			first, second := builds[round%2], builds[1-round%2]
			for _, p := range []*path{ref1, first.devPath, second.devPath, ref2, first.tunnelPath, second.tunnelPath} {
				p.run(ctx, client, bodies, r.c, r.n/rounds)
			}
		}
		name := fmt.Sprintf("c=%d", r.c)
		for _, b := range builds {
			for _, p := range []struct {
				what   string
				p, ref *path
				cpu    string
			}{
				{"dev / 1 proxy", b.devPath, ref1, perDelivery(b.devPath.cpu[0].a, r.n)},
				{"relay+agent / 2 proxies", b.tunnelPath, ref2, perDelivery(b.tunnelPath.cpu[0].a, r.n) + "+" + perDelivery(b.tunnelPath.cpu[0].b, r.n)},
			} {
				t.add("ab", fmt.Sprintf("%s %s %s: p50 / p99 / deliveries/s, CPU µs per delivery", name, b.name, p.what),
					fmt.Sprintf("%.2fx / %.2fx / %.2fx, %s", float64(p.p.res.quantile(.5))/float64(p.ref.res.quantile(.5)),
						float64(p.p.res.quantile(.99))/float64(p.ref.res.quantile(.99)), p.p.res.perSecond()/p.ref.res.perSecond(), p.cpu), "", nil)
				ok := p.p.res.failed == 0
				t.add("ab", fmt.Sprintf("%s %s %s: failed requests", name, b.name, p.what), fmt.Sprint(p.p.res.failed), "0", &ok)
			}
		}
	}
	return nil
}
