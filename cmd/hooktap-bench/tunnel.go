package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hooktap/hooktap/inspector/catalog"
)

// The tunnel section runs the relay, the agent (recording to SQLite, as
// users run it) and a local app as separate processes on loopback, and
// times each delivery from the moment it is sent to its arrival at the
// app. The same generator POSTs straight to the app in the same run: the
// floor. Figures are reported as ratios tunnel/floor.

// appMode is the argument that makes this binary the local app.
const appMode = "serve-app"

// serveApp is the local app: it answers every request with the time it
// arrived (unix nanoseconds) and counts what it got.
func serveApp(ctx context.Context, stdout io.Writer) error {
	var n atomic.Int64
	mux := http.NewServeMux()
	mux.HandleFunc("GET /count", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, n.Load())
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		arrived := time.Now().UnixNano()
		io.Copy(io.Discard, r.Body)
		n.Add(1)
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"arrived":%d}`, arrived)
	})
	return serveLoopback(ctx, mux, stdout)
}

// proxyMode is the argument that makes this binary a plain reverse proxy
// (net/http/httputil) to the URL that follows it. Two of them in series,
// with nothing stored, are the reference: the shape of a relay and an
// agent, doing nothing but passing requests on, measured in the same run.
const proxyMode = "serve-proxy"

func serveProxy(ctx context.Context, target string, stdout io.Writer) error {
	u, err := url.Parse(target)
	if err != nil {
		return err
	}
	p := httputil.NewSingleHostReverseProxy(u)
	p.Transport = &http.Transport{MaxIdleConnsPerHost: 64, MaxIdleConns: 128, Proxy: nil}
	return serveLoopback(ctx, p, stdout)
}

// serveLoopback serves h on a free loopback port, printed to stdout as
// "ADDR host:port", until ctx ends.
func serveLoopback(ctx context.Context, h http.Handler, stdout io.Writer) error {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	fmt.Fprintf(stdout, "ADDR %s\n", ln.Addr())
	go func() {
		<-ctx.Done()
		srv.Close()
	}()
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// child is a subprocess of the benchmark.
type child struct {
	cmd   *exec.Cmd
	lines *bufio.Scanner
}

// startChild starts name with args and waits for a stdout line containing
// marker; the rest of stdout is drained so that the child never blocks.
func startChild(ctx context.Context, marker, name string, args ...string) (*child, string, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, "", err
	}
	if err := cmd.Start(); err != nil {
		return nil, "", err
	}
	c := &child{cmd: cmd, lines: bufio.NewScanner(out)}
	found := make(chan string, 1)
	go func() {
		sent := false
		for c.lines.Scan() {
			if !sent && strings.Contains(c.lines.Text(), marker) {
				found <- c.lines.Text()
				sent = true
			}
		}
		if !sent {
			close(found)
		}
	}()
	select {
	case l, ok := <-found:
		if !ok {
			return nil, "", fmt.Errorf("%s ended before printing %q", filepath.Base(name), marker)
		}
		return c, l, nil
	case <-time.After(30 * time.Second):
		cmd.Process.Kill()
		return nil, "", fmt.Errorf("%s did not print %q", filepath.Base(name), marker)
	}
}

func (c *child) stop() {
	c.cmd.Process.Signal(os.Interrupt)
	done := make(chan struct{})
	go func() { c.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(15 * time.Second):
		c.cmd.Process.Kill()
		<-done
	}
}

// buildHooktap builds the hooktap binary into dir.
func buildHooktap(ctx context.Context, dir string) (string, error) {
	bin := filepath.Join(dir, "hooktap")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/hooktap")
	cmd.Stderr = os.Stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("build hooktap: %w", err)
	}
	return bin, nil
}

// loadResult is one run of the generator.
type loadResult struct {
	sent, failed int
	latencies    []time.Duration // send -> arrival at the app
	elapsed      time.Duration
}

// cpuUse is CPU time used by two processes.
type cpuUse struct{ a, b time.Duration }

func (u *cpuUse) add(o cpuUse) { u.a += o.a; u.b += o.b }

// cpuMark is where two processes' CPU time stood.
type cpuMark struct {
	a, b *os.Process // b nil: this process
	at   cpuUse
}

// cpuOf marks the CPU time of a's and b's processes; a nil b is this
// process (the generator).
func cpuOf(a, b *child) cpuMark {
	m := cpuMark{a: a.cmd.Process}
	if b != nil {
		m.b = b.cmd.Process
	}
	m.at = m.read()
	return m
}

func (m cpuMark) read() cpuUse {
	pidB := os.Getpid()
	if m.b != nil {
		pidB = m.b.Pid
	}
	return cpuUse{procCPU(m.a.Pid), procCPU(pidB)}
}

// since is the CPU time used since the mark.
func (m cpuMark) since() cpuUse {
	now := m.read()
	return cpuUse{now.a - m.at.a, now.b - m.at.b}
}

// procCPU is a process's user and system CPU time so far, from /proc (in
// clock ticks of 10 ms, as Linux reports them to user space).
func procCPU(pid int) time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// Fields after the command name, which is in parentheses and may hold
	// spaces: state is field 3, utime 14, stime 15.
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
	if len(f) < 13 {
		return 0
	}
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(ut+st) * 10 * time.Millisecond
}

// rounds is how many turns the floor and the tunnel take in each run.
const rounds = 6

// merge adds o's requests and time to r; the latencies stay sorted, for
// quantile.
func (r *loadResult) merge(o loadResult) {
	r.sent += o.sent
	r.failed += o.failed
	r.latencies = append(r.latencies, o.latencies...)
	slices.Sort(r.latencies)
	r.elapsed += o.elapsed
}

func (r loadResult) perSecond() float64 { return float64(r.sent-r.failed) / r.elapsed.Seconds() }

func (r loadResult) quantile(q float64) time.Duration {
	if len(r.latencies) == 0 {
		return 0
	}
	return r.latencies[min(len(r.latencies)-1, int(q*float64(len(r.latencies))))]
}

// load POSTs n realistic Monite bodies to url from c workers.
func load(ctx context.Context, client *http.Client, url string, bodies [][]byte, c, n int) loadResult {
	var mu sync.Mutex
	res := loadResult{sent: n, latencies: make([]time.Duration, 0, n)}
	jobs := make(chan int, c)
	var wg sync.WaitGroup
	start := time.Now()
	for w := 0; w < c; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				sent := time.Now()
				req, _ := http.NewRequestWithContext(ctx, "POST", url, strings.NewReader(string(bodies[i%len(bodies)])))
				req.Header.Set("Content-Type", "application/json")
				resp, err := client.Do(req)
				var arrived struct{ Arrived int64 }
				if err == nil {
					err = json.NewDecoder(resp.Body).Decode(&arrived)
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if err == nil && resp.StatusCode != http.StatusOK {
						err = fmt.Errorf("status %d", resp.StatusCode)
					}
				}
				mu.Lock()
				if err != nil || arrived.Arrived == 0 {
					res.failed++
				} else {
					res.latencies = append(res.latencies, time.Duration(arrived.Arrived-sent.UnixNano()))
				}
				mu.Unlock()
			}
		}()
	}
	for i := 0; i < n; i++ {
		jobs <- i
	}
	close(jobs)
	wg.Wait()
	res.elapsed = time.Since(start)
	slices.Sort(res.latencies)
	return res
}

func appCount(client *http.Client, appURL string) (int64, error) {
	resp, err := client.Get(appURL + "/count")
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
}

func msec(d time.Duration) string { return fmt.Sprintf("%.3f ms", float64(d.Microseconds())/1000) }

func benchTunnel(ctx context.Context, cfg config, t *table) error {
	dir, err := os.MkdirTemp(cfg.dir, "hooktap-bench-tunnel-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	bin, err := buildHooktap(ctx, dir)
	if err != nil {
		return err
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	app, line, err := startChild(ctx, "ADDR ", self, appMode)
	if err != nil {
		return err
	}
	defer app.stop()
	appURL := "http://" + strings.TrimPrefix(line, "ADDR ")

	relay, line, err := startChild(ctx, "listening on ", bin, "relay", "--addr", "127.0.0.1:0", "--data", filepath.Join(dir, "relay"))
	if err != nil {
		return err
	}
	defer relay.stop()
	relayURL := "http://" + strings.Fields(line[strings.Index(line, "listening on ")+len("listening on "):])[0]

	// The agent records into the store section's million deliveries when
	// there is one, as into a user's long-lived store.
	agentDB := filepath.Join(dir, "agent.db")
	if cfg.shared.storeDB != "" {
		agentDB = cfg.shared.storeDB
	}
	agent, line, err := startChild(ctx, `"type":"ready"`, bin, "listen", "--relay", relayURL, "--channel", "bench",
		"--forward-to", appURL+"/webhooks", "--db", agentDB, "--no-tui", "--json", "--no-web")
	if err != nil {
		return err
	}
	defer agent.stop()
	var ready struct{ URL string }
	json.Unmarshal([]byte(line), &ready)

	rng := rand.New(rand.NewPCG(1, 2))
	events := catalog.All()
	var bodies [][]byte
	for i := 0; i < 500; i++ {
		b, err := catalog.Payload(events[rng.IntN(len(events))], catalog.Options{Rand: rng})
		if err != nil {
			return err
		}
		bodies = append(bodies, b)
	}
	avg := 0
	for _, b := range bodies {
		avg += len(b)
	}
	fmt.Fprintf(cfg.log, "tunnel: relay %s, agent recording to SQLite, app %s, bodies ~%d bytes\n", relayURL, appURL, avg/len(bodies))

	// The reference: two plain reverse proxies in series, in front of the
	// same app.
	inner, line, err := startChild(ctx, "ADDR ", self, proxyMode, appURL)
	if err != nil {
		return err
	}
	defer inner.stop()
	outer, line, err := startChild(ctx, "ADDR ", self, proxyMode, "http://"+strings.TrimPrefix(line, "ADDR "))
	if err != nil {
		return err
	}
	defer outer.stop()
	refURL := "http://" + strings.TrimPrefix(line, "ADDR ") + "/webhooks"

	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64, MaxIdleConns: 128, Proxy: nil}, Timeout: 30 * time.Second}
	floorURL, tunnelURL := appURL+"/webhooks", ready.URL

	// Warm up every path (connections, SQLite pages).
	for _, u := range []string{floorURL, tunnelURL, refURL} {
		load(ctx, client, u, bodies, 4, 500)
	}

	before, err := appCount(client, appURL)
	if err != nil {
		return err
	}
	runs := []struct{ c, n int }{{1, 3000}, {32, 30000}} // n: a multiple of rounds
	sent := 0
	for _, r := range runs {
		// The paths take turns, in rounds, so that all see the same
		// machine: on a shared one, its load drifts within seconds.
		var floor, tun, ref loadResult
		var floorCPU, tunCPU cpuUse // the app and the generator (this process)
		var hooktapCPU, refCPU cpuUse
		for range rounds {
			c := cpuOf(app, nil)
			floor.merge(load(ctx, client, floorURL, bodies, r.c, r.n/rounds))
			floorCPU.add(c.since())
			c, h := cpuOf(app, nil), cpuOf(relay, agent)
			tun.merge(load(ctx, client, tunnelURL, bodies, r.c, r.n/rounds))
			tunCPU.add(c.since())
			hooktapCPU.add(h.since())
			c = cpuOf(outer, inner)
			ref.merge(load(ctx, client, refURL, bodies, r.c, r.n/rounds))
			refCPU.add(c.since())
		}
		sent += 3 * r.n
		name := fmt.Sprintf("c=%d", r.c)
		t.add("tunnel", name+" p50 floor / tunnel", msec(floor.quantile(.5))+" / "+msec(tun.quantile(.5)), "", nil)
		t.add("tunnel", name+" p99 floor / tunnel", msec(floor.quantile(.99))+" / "+msec(tun.quantile(.99)), "", nil)
		t.add("tunnel", name+" deliveries/s floor / tunnel", fmt.Sprintf("%.0f / %.0f", floor.perSecond(), tun.perSecond()), "", nil)
		p50 := float64(tun.quantile(.5)) / float64(floor.quantile(.5))
		p99 := float64(tun.quantile(.99)) / float64(floor.quantile(.99))
		rate := tun.perSecond() / floor.perSecond()
		if r.c == 1 {
			okP50, okP99 := p50 <= 10, p99 <= 10
			t.add("tunnel", name+" p50 tunnel/floor", fmt.Sprintf("%.1fx", p50), "<= 10x", &okP50)
			t.add("tunnel", name+" p99 tunnel/floor", fmt.Sprintf("%.1fx", p99), "<= 10x", &okP99)
		} else {
			t.add("tunnel", name+" p50 tunnel/floor", fmt.Sprintf("%.1fx", p50), "", nil)
			t.add("tunnel", name+" p99 tunnel/floor", fmt.Sprintf("%.1fx", p99), "", nil)
			okRate := rate >= 1.0/3
			t.add("tunnel", name+" throughput tunnel/floor", fmt.Sprintf("%.0f%%", rate*100), ">= 33%", &okRate)
		}
		perDelivery := func(d time.Duration) string { return fmt.Sprintf("%.0f", float64(d.Microseconds())/float64(r.n)) }
		t.add("tunnel", name+" CPU per delivery, relay / agent", perDelivery(hooktapCPU.a)+" / "+perDelivery(hooktapCPU.b)+" µs", "", nil)
		t.add("tunnel", name+" CPU per delivery, generator + app: floor / tunnel",
			perDelivery(floorCPU.a+floorCPU.b)+" / "+perDelivery(tunCPU.a+tunCPU.b)+" µs", "", nil)
		t.add("tunnel", name+" reference (2 reverse proxies, nothing stored): p50 / deliveries/s / vs floor",
			fmt.Sprintf("%s / %.0f / %.0f%%", msec(ref.quantile(.5)), ref.perSecond(), 100*ref.perSecond()/floor.perSecond()), "", nil)
		t.add("tunnel", name+" reference CPU per delivery, outer / inner proxy", perDelivery(refCPU.a)+" / "+perDelivery(refCPU.b)+" µs", "", nil)
		failed := floor.failed + tun.failed + ref.failed
		ok := failed == 0
		t.add("tunnel", name+" failed requests", strconv.Itoa(failed), "0", &ok)
	}
	agentRSS, _ := rssKiB(agent.cmd.Process.Pid)
	relayRSS, _ := rssKiB(relay.cmd.Process.Pid)
	stored := "a fresh store"
	if cfg.shared.storeDB != "" {
		stored = fmt.Sprintf("%s stored", thousands(cfg.deliveries))
	}
	t.add("tunnel", "agent resident memory after receiving, "+stored, fmt.Sprintf("%.1f MiB", float64(agentRSS)/1024), "<= 64 MiB",
		pass(agentRSS <= 64*1024))
	t.add("tunnel", "relay resident memory after the runs", fmt.Sprintf("%.1f MiB", float64(relayRSS)/1024), "", nil)
	after, err := appCount(client, appURL)
	if err != nil {
		return err
	}
	lost := int64(sent) - (after - before)
	ok := lost == 0
	t.add("tunnel", "lost deliveries", strconv.FormatInt(lost, 10), "0", &ok)
	return nil
}
