package main

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"
)

// start runs serve in this process and returns the address it printed.
func start(t *testing.T, serve func(ctx context.Context, stdout io.Writer) error) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() { done <- serve(ctx, pw) }()
	line, err := bufio.NewReader(pr).ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	go io.Copy(io.Discard, pr)
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
		pw.Close()
	})
	return "http://" + strings.TrimSpace(strings.TrimPrefix(line, "ADDR "))
}

// The instruments of the tunnel section: what the generator counts as sent,
// failed and timed must agree with what the app counts as received, through
// the reference's two proxies as well as directly.
func TestLoadCountsWhatArrives(t *testing.T) {
	app := start(t, serveApp)
	inner := start(t, func(ctx context.Context, w io.Writer) error { return serveProxy(ctx, app, w) })
	outer := start(t, func(ctx context.Context, w io.Writer) error { return serveProxy(ctx, inner, w) })
	client := &http.Client{Timeout: 10 * time.Second}
	bodies := [][]byte{[]byte(`{"action":"payable.created"}`), []byte(`{"action":"payable.paid"}`)}
	ctx := t.Context()

	before, err := appCount(client, app)
	if err != nil {
		t.Fatal(err)
	}
	cpu := procCPU(os.Getpid())
	direct := load(ctx, client, app+"/webhooks", bodies, 4, 200)
	proxied := load(ctx, client, outer+"/webhooks", bodies, 8, 160)
	for name, r := range map[string]loadResult{"direct": direct, "proxied": proxied} {
		if r.failed != 0 || len(r.latencies) != r.sent {
			t.Errorf("%s: %d sent, %d failed, %d timed", name, r.sent, r.failed, len(r.latencies))
		}
		if r.quantile(.5) <= 0 || r.quantile(.5) > r.quantile(.99) || r.perSecond() <= 0 {
			t.Errorf("%s: p50 %v, p99 %v, %.0f/s", name, r.quantile(.5), r.quantile(.99), r.perSecond())
		}
	}
	after, err := appCount(client, app)
	if err != nil {
		t.Fatal(err)
	}
	if got := after - before; got != 360 {
		t.Errorf("the app counted %d requests, want 360", got)
	}
	if used := procCPU(os.Getpid()) - cpu; used <= 0 {
		t.Errorf("CPU time read from /proc did not grow (%v)", used)
	}

	// A request that does not reach the app is a failure, not a delivery:
	// here a proxy in front of a port nobody listens on answers 502.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln.Close()
	dead := start(t, func(ctx context.Context, w io.Writer) error { return serveProxy(ctx, "http://"+ln.Addr().String(), w) })
	lost := load(ctx, client, dead+"/webhooks", bodies, 2, 10)
	if lost.failed != 10 || len(lost.latencies) != 0 {
		t.Errorf("%d of 10 counted as failed, %d timed", lost.failed, len(lost.latencies))
	}
}

// Rounds merged in any order give the quantiles of all their latencies.
func TestMergeKeepsQuantiles(t *testing.T) {
	var all loadResult
	all.merge(loadResult{sent: 3, latencies: []time.Duration{7, 8, 9}})
	all.merge(loadResult{sent: 3, latencies: []time.Duration{1, 2, 3}})
	all.merge(loadResult{sent: 3, latencies: []time.Duration{4, 5, 6}})
	if all.sent != 9 || all.quantile(.5) != 5 || all.quantile(0) != 1 || all.quantile(.99) != 9 {
		t.Errorf("sent %d, p0 %v, p50 %v, p99 %v; want 9, 1, 5, 9", all.sent, all.quantile(0), all.quantile(.5), all.quantile(.99))
	}
}
