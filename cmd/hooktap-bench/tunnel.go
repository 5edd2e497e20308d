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
	"syscall"
	"time"

	"github.com/hooktap/hooktap/inspector/catalog"
)

// The tunnel section runs the relay, the agent (recording to SQLite, as
// users run it) and a local app as separate processes on loopback, and
// times each delivery from the moment it is sent to its arrival at the
// app. The same generator POSTs straight to the app in the same run: the
// floor. Figures are reported as ratios tunnel/floor. Two more agents on
// the same relay compare the agent's forwarders in the same rounds: its own
// pool and net/http's Transport (HOOKTAP_FORWARDER=transport).

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
	return startChildEnv(ctx, nil, marker, name, args...)
}

// startRelay starts a single `hooktap relay` on a free port with its data
// in dataDir, and returns it with its base URL.
func startRelay(ctx context.Context, bin, dataDir string) (*child, string, error) {
	c, line, err := startChild(ctx, "listening on ", bin, "relay", "--addr", "127.0.0.1:0", "--data", dataDir)
	if err != nil {
		return nil, "", err
	}
	return c, listenURL(line), nil
}

// listenURL is the base URL in a relay's "listening on ADDR" line.
func listenURL(line string) string {
	_, addr, _ := strings.Cut(line, "listening on ")
	return "http://" + strings.Fields(addr)[0]
}

// startChildEnv is startChild with env added to this process's environment.
func startChildEnv(ctx context.Context, env []string, marker, name string, args ...string) (*child, string, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	if env != nil {
		cmd.Env = append(os.Environ(), env...)
	}
	cmd.Stderr = os.Stderr
	// In a process group of its own, killed whole: a child's children
	// (a script given to -a, say) would keep stderr open, and the bench's
	// pipe with it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
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
		cmd.Cancel()
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
		c.cmd.Cancel()
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

// path is one way to the app, taking turns with the others in the rounds.
type path struct {
	url   string
	procs [][2]*child // pairs whose CPU time is counted; a nil second is the generator
	res   loadResult
	cpu   []cpuUse // one per pair
}

func newPath(url string, procs ...[2]*child) *path {
	return &path{url: url, procs: procs, cpu: make([]cpuUse, len(procs))}
}

// run sends n deliveries along p from c workers.
func (p *path) run(ctx context.Context, client *http.Client, bodies [][]byte, c, n int) {
	marks := make([]cpuMark, len(p.procs))
	for i, pr := range p.procs {
		marks[i] = cpuOf(pr[0], pr[1])
	}
	p.res.merge(load(ctx, client, p.url, bodies, c, n))
	for i, m := range marks {
		p.cpu[i].add(m.since())
	}
}

// startAgent starts `hooktap listen` on channel, recording to db, and
// returns it with its public URL.
func startAgent(ctx context.Context, bin, relayURL, channel, appURL, db string, env ...string) (*child, string, error) {
	agent, line, err := startChildEnv(ctx, env, `"type":"ready"`, bin, "listen", "--relay", relayURL, "--channel", channel,
		"--forward-to", appURL+"/webhooks", "--db", db, "--no-tui", "--json", "--no-web")
	if err != nil {
		return nil, "", err
	}
	var ready struct{ URL string }
	json.Unmarshal([]byte(line), &ready)
	return agent, ready.URL, nil
}

// monite is 500 realistic Monite bodies.
func monite() ([][]byte, error) {
	rng := rand.New(rand.NewPCG(1, 2))
	events := catalog.All()
	var bodies [][]byte
	for i := 0; i < 500; i++ {
		b, err := catalog.Payload(events[rng.IntN(len(events))], catalog.Options{Rand: rng})
		if err != nil {
			return nil, err
		}
		bodies = append(bodies, b)
	}
	return bodies, nil
}

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

	relay, relayURL, err := startRelay(ctx, bin, filepath.Join(dir, "relay"))
	if err != nil {
		return err
	}
	defer relay.stop()

	// The agent records into the store section's million deliveries when
	// there is one, as into a user's long-lived store.
	agentDB := filepath.Join(dir, "agent.db")
	if cfg.shared.storeDB != "" {
		agentDB = cfg.shared.storeDB
	}
	agent, tunnelURL, err := startAgent(ctx, bin, relayURL, "bench", appURL, agentDB, "HOOKTAP_FORWARDER=pool")
	if err != nil {
		return err
	}
	defer agent.stop()
	// The forwarder comparison: two more agents on the same relay, each
	// recording to a fresh store, one with the hand-rolled pool and one
	// with net/http's Transport.
	poolAgent, poolURL, err := startAgent(ctx, bin, relayURL, "bench-pool", appURL, filepath.Join(dir, "pool.db"), "HOOKTAP_FORWARDER=pool")
	if err != nil {
		return err
	}
	defer poolAgent.stop()
	trAgent, trURL, err := startAgent(ctx, bin, relayURL, "bench-transport", appURL, filepath.Join(dir, "transport.db"), "HOOKTAP_FORWARDER=transport")
	if err != nil {
		return err
	}
	defer trAgent.stop()

	bodies, err := monite()
	if err != nil {
		return err
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
	// The other reference: one plain reverse proxy, the shape of hooktap
	// dev (one process between the sender and the app), storing nothing.
	single, line, err := startChild(ctx, "ADDR ", self, proxyMode, appURL)
	if err != nil {
		return err
	}
	defer single.stop()
	ref1URL := "http://" + strings.TrimPrefix(line, "ADDR ") + "/webhooks"

	// hooktap dev as users run it (the provider emulator mounted, the
	// agent verifying against it), recording to a fresh store of its own.
	dev, devURL, err := startDev(ctx, bin, dir, appURL)
	if err != nil {
		return err
	}
	defer dev.stop()

	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64, MaxIdleConns: 128, Proxy: nil}, Timeout: 30 * time.Second}
	floorURL := appURL + "/webhooks"

	// Warm up every path (connections, SQLite pages).
	for _, u := range []string{floorURL, tunnelURL, refURL, ref1URL, devURL, poolURL, trURL} {
		load(ctx, client, u, bodies, 4, 500)
	}

	before, err := appCount(client, appURL)
	if err != nil {
		return err
	}
	runs := []struct{ c, n int }{{1, 3000}, {32, 30000}}
	sent := 0
	for _, r := range runs {
		r.n = max(rounds, int(float64(r.n)*cfg.tunnelScale)/rounds*rounds) // a multiple of rounds
		floor := newPath(floorURL, [2]*child{app, nil})
		tun := newPath(tunnelURL, [2]*child{app, nil}, [2]*child{relay, agent})
		ref := newPath(refURL, [2]*child{outer, inner})
		ref1 := newPath(ref1URL, [2]*child{single, nil})
		dv := newPath(devURL, [2]*child{dev, nil})
		pool := newPath(poolURL, [2]*child{relay, poolAgent})
		tr := newPath(trURL, [2]*child{relay, trAgent})
		// The paths take turns, in rounds, so that all see the same
		// machine: on a shared one, its load drifts within seconds. The
		// two forwarders swap places every round.
		for round := range rounds {
			cmp := []*path{pool, tr}
			if round%2 == 1 {
				cmp = []*path{tr, pool}
			}
			all := append([]*path{floor, tun, ref, ref1, dv}, cmp...)
			for _, p := range all {
				p.run(ctx, client, bodies, r.c, r.n/rounds)
			}
		}
		sent += 7 * r.n
		name := fmt.Sprintf("c=%d", r.c)
		tunnelFigures(t, name, r.n, floor, tun, ref)
		devFigures(t, name, r.n, floor, dv, ref1)
		targetFigures(t, name, tun, ref, dv, ref1)
		forwarderFigures(t, name, r.n, floor, pool, tr)
		failed := floor.res.failed + tun.res.failed + ref.res.failed + ref1.res.failed + dv.res.failed + pool.res.failed + tr.res.failed
		ok := failed == 0
		t.add("tunnel", name+" failed requests", strconv.Itoa(failed), "0", &ok)
	}
	agentRSS, _ := rssKiB(agent.cmd.Process.Pid)
	devRSS, _ := rssKiB(dev.cmd.Process.Pid)
	t.add("tunnel", "hooktap dev resident memory after the runs (a fresh store)", fmt.Sprintf("%.1f MiB", float64(devRSS)/1024), "", nil)
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

// perDelivery is d per delivery of n, in µs.
func perDelivery(d time.Duration, n int) string {
	return fmt.Sprintf("%.0f", float64(d.Microseconds())/float64(n))
}

// tunnelFigures adds the figures of one run (name, n deliveries per path)
// of the floor, the tunnel and the reference.
func tunnelFigures(t *table, name string, n int, floor, tun, ref *path) {
	f, r, x := floor.res, tun.res, ref.res
	t.add("tunnel", name+" p50 floor / tunnel", msec(f.quantile(.5))+" / "+msec(r.quantile(.5)), "", nil)
	t.add("tunnel", name+" p99 floor / tunnel", msec(f.quantile(.99))+" / "+msec(r.quantile(.99)), "", nil)
	t.add("tunnel", name+" deliveries/s floor / tunnel", fmt.Sprintf("%.0f / %.0f", f.perSecond(), r.perSecond()), "", nil)
	p50 := float64(r.quantile(.5)) / float64(f.quantile(.5))
	p99 := float64(r.quantile(.99)) / float64(f.quantile(.99))
	rate := r.perSecond() / f.perSecond()
	if name == "c=1" {
		okP50, okP99 := p50 <= 10, p99 <= 10
		t.add("tunnel", name+" p50 tunnel/floor", fmt.Sprintf("%.1fx", p50), "<= 10x", &okP50)
		t.add("tunnel", name+" p99 tunnel/floor", fmt.Sprintf("%.1fx", p99), "<= 10x", &okP99)
	} else {
		t.add("tunnel", name+" p50 tunnel/floor", fmt.Sprintf("%.1fx", p50), "", nil)
		t.add("tunnel", name+" p99 tunnel/floor", fmt.Sprintf("%.1fx", p99), "", nil)
		okRate := rate >= 1.0/3
		t.add("tunnel", name+" throughput tunnel/floor", fmt.Sprintf("%.0f%%", rate*100), ">= 33%", &okRate)
	}
	hooktap, gen := tun.cpu[1], tun.cpu[0]
	t.add("tunnel", name+" CPU per delivery, relay / agent", perDelivery(hooktap.a, n)+" / "+perDelivery(hooktap.b, n)+" µs", "", nil)
	t.add("tunnel", name+" CPU per delivery, generator + app: floor / tunnel",
		perDelivery(floor.cpu[0].a+floor.cpu[0].b, n)+" / "+perDelivery(gen.a+gen.b, n)+" µs", "", nil)
	t.add("tunnel", name+" reference (2 reverse proxies, nothing stored): p50 / deliveries/s / vs floor",
		fmt.Sprintf("%s / %.0f / %.0f%%", msec(x.quantile(.5)), x.perSecond(), 100*x.perSecond()/f.perSecond()), "", nil)
	t.add("tunnel", name+" reference CPU per delivery, outer / inner proxy", perDelivery(ref.cpu[0].a, n)+" / "+perDelivery(ref.cpu[0].b, n)+" µs", "", nil)
}

// startDev starts `hooktap dev` on a free port, with its relay's buffer,
// its store and the provider emulator's state under dir, and returns it
// with its webhook URL.
func startDev(ctx context.Context, bin, dir, appURL string) (*child, string, error) {
	home := filepath.Join(dir, "dev")
	dev, line, err := startChildEnv(ctx, []string{"XDG_DATA_HOME=" + home, "HOOKTAP_FORWARDER=pool"}, `"type":"ready"`,
		bin, "dev", "--addr", "127.0.0.1:0", "--forward-to", appURL+"/webhooks", "--data", filepath.Join(home, "relay"),
		"--db", filepath.Join(home, "dev.db"), "--no-tui", "--json", "--no-web")
	if err != nil {
		return nil, "", err
	}
	var ready struct{ URL string }
	json.Unmarshal([]byte(line), &ready)
	return dev, ready.URL, nil
}

// devFigures adds hooktap dev's figures of one run beside the one-proxy
// reference's.
func devFigures(t *table, name string, n int, floor, dev, ref1 *path) {
	f, d, x := floor.res, dev.res, ref1.res
	t.add("tunnel", name+" dev: p50 / p99 / deliveries/s / vs floor",
		fmt.Sprintf("%s / %s / %.0f / %.0f%%", msec(d.quantile(.5)), msec(d.quantile(.99)), d.perSecond(), 100*d.perSecond()/f.perSecond()), "", nil)
	t.add("tunnel", name+" dev CPU per delivery", perDelivery(dev.cpu[0].a, n)+" µs", "", nil)
	t.add("tunnel", name+" reference (1 reverse proxy, nothing stored): p50 / deliveries/s / vs floor",
		fmt.Sprintf("%s / %.0f / %.0f%%", msec(x.quantile(.5)), x.perSecond(), 100*x.perSecond()/f.perSecond()), "", nil)
	t.add("tunnel", name+" reference CPU per delivery, 1 proxy", perDelivery(ref1.cpu[0].a, n)+" µs", "", nil)
}

// targetFigures adds issue 19's ratios, each measured in the same rounds:
// hooktap dev against one reverse proxy, the relay and agent against two.
func targetFigures(t *table, name string, tun, ref2, dev, ref1 *path) {
	if name == "c=1" {
		p50 := func(a, b *path) float64 { return float64(a.res.quantile(.5)) / float64(b.res.quantile(.5)) }
		d, r := p50(dev, ref1), p50(tun, ref2)
		t.add("target", name+" p50 dev / 1 proxy", fmt.Sprintf("%.2fx", d), "<= 1.2x", pass(d <= 1.2))
		t.add("target", name+" p50 relay+agent / 2 proxies", fmt.Sprintf("%.2fx", r), "<= 1.0x", pass(r <= 1.0))
		return
	}
	rate := func(a, b *path) float64 { return a.res.perSecond() / b.res.perSecond() }
	d, r := rate(dev, ref1), rate(tun, ref2)
	t.add("target", name+" deliveries/s dev / 1 proxy", fmt.Sprintf("%.2fx", d), ">= 0.8x", pass(d >= 0.8))
	t.add("target", name+" deliveries/s relay+agent / 2 proxies", fmt.Sprintf("%.2fx", r), ">= 1.0x", pass(r >= 1.0))
}

// forwarderFigures adds the comparison of the agent's two forwarders in
// one run: the hand-rolled pool and net/http's Transport, each against the
// floor and against each other (transport/pool).
func forwarderFigures(t *table, name string, n int, floor, pool, tr *path) {
	f := floor.res
	p50 := func(p *path) float64 { return float64(p.res.quantile(.5)) / float64(f.quantile(.5)) }
	rate := func(p *path) float64 { return p.res.perSecond() / f.perSecond() }
	cpu := func(p *path) float64 { return float64(p.cpu[0].b) / float64(n) / float64(time.Microsecond) }
	t.add("forwarder", name+" p50 vs floor: pool / transport / transport÷pool",
		fmt.Sprintf("%.2fx / %.2fx / %.3f", p50(pool), p50(tr), p50(tr)/p50(pool)), "", nil)
	t.add("forwarder", name+" deliveries/s vs floor: pool / transport / transport÷pool",
		fmt.Sprintf("%.1f%% / %.1f%% / %.3f", 100*rate(pool), 100*rate(tr), rate(tr)/rate(pool)), "", nil)
	t.add("forwarder", name+" agent CPU per delivery: pool / transport / transport÷pool",
		fmt.Sprintf("%.0f / %.0f µs / %.3f", cpu(pool), cpu(tr), cpu(tr)/cpu(pool)), "", nil)
	t.add("forwarder", name+" relay CPU per delivery: pool / transport",
		perDelivery(pool.cpu[0].a, n)+" / "+perDelivery(tr.cpu[0].a, n)+" µs", "", nil)
}
