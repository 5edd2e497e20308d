package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/gorilla/websocket"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/hooktap/hooktap/relay/wire"
)

// The relay-scale section connects many idle agents to one relay process,
// measures its resident memory per agent, sends one delivery to each of
// many channels at once, and checks that memory and goroutines come back
// down after the agents leave.

const (
	scaleAgents   = 10_000
	scaleChannels = 1_000
)

// raiseFileLimit lifts the soft limit on open files to the hard limit; the
// relay inherits it.
func raiseFileLimit() {
	var l syscall.Rlimit
	if syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l) == nil && l.Cur < l.Max {
		l.Cur = l.Max
		syscall.Setrlimit(syscall.RLIMIT_NOFILE, &l)
	}
}

// rssKiB reads a process's resident set size.
func rssKiB(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "VmRSS:") {
			return strconv.ParseInt(strings.Fields(l)[1], 10, 64)
		}
	}
	return 0, fmt.Errorf("no VmRSS for %d", pid)
}

// scrape reads one gauge from /metrics: its value, or the sum over its
// labels.
func scrape(client *http.Client, base, name string) (float64, error) {
	resp, err := client.Get(base + "/metrics")
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		return 0, fmt.Errorf("read /metrics: %w", err)
	}
	f, ok := fams[name]
	if !ok {
		return 0, fmt.Errorf("no metric %s", name)
	}
	sum := 0.0
	for _, m := range f.GetMetric() {
		sum += m.GetGauge().GetValue()
	}
	return sum, nil
}

// idleAgent is a minimal agent: it says hello, as hooktap's agent does (with
// binary frames), and acks what it gets.
type idleAgent struct {
	ws   *websocket.Conn
	done chan struct{}
}

func dialIdle(ctx context.Context, d *websocket.Dialer, url, channel, id string, acks *atomic.Int64) (*idleAgent, error) {
	ws, _, err := d.DialContext(ctx, url, nil)
	if err != nil {
		return nil, err
	}
	b, _ := wire.Encode(&wire.Hello{Channel: channel, AgentID: id, AgentKey: "key-of-" + id + "-for-the-bench", Binary: true})
	if err := ws.WriteMessage(websocket.TextMessage, b); err != nil {
		ws.Close()
		return nil, err
	}
	if _, _, err := ws.ReadMessage(); err != nil { // welcome
		ws.Close()
		return nil, err
	}
	a := &idleAgent{ws: ws, done: make(chan struct{})}
	go func() {
		defer close(a.done)
		for {
			typ, b, err := ws.ReadMessage()
			if err != nil {
				return
			}
			if typ != websocket.BinaryMessage {
				continue
			}
			msgs, err := wire.DecodeBinary(b)
			if err != nil {
				continue
			}
			var out []wire.Message
			for _, m := range msgs {
				if d, ok := m.(*wire.Delivery); ok {
					out = append(out, &wire.Ack{ID: d.ID, Seq: d.Seq, Status: 200, Body: []byte("ok")})
				}
			}
			if len(out) > 0 {
				frame, _ := wire.AppendBinary(nil, out...)
				ws.WriteMessage(websocket.BinaryMessage, frame)
				acks.Add(int64(len(out)))
			}
		}
	}()
	return a, nil
}

// connectIdle connects idle agents from..to, par at a time, agent i on
// channel prefix+(i mod scaleChannels).
func connectIdle(ctx context.Context, d *websocket.Dialer, url, prefix string, from, to, par int, acks *atomic.Int64) ([]*idleAgent, error) {
	agents := make([]*idleAgent, to-from)
	errs := make(chan error, 1)
	var wg sync.WaitGroup
	sem := make(chan struct{}, par)
	for i := from; i < to; i++ {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			a, err := dialIdle(ctx, d, url, fmt.Sprintf("%s%04d", prefix, i%scaleChannels), fmt.Sprintf("agt_%05d", i), acks)
			if err != nil {
				select {
				case errs <- err:
				default:
				}
				return
			}
			agents[i-from] = a
		})
	}
	wg.Wait()
	select {
	case err := <-errs:
		return agents, err
	default:
		return agents, nil
	}
}

// closeIdle disconnects agents (nil entries are those that failed).
func closeIdle(agents []*idleAgent) {
	for _, a := range agents {
		if a != nil {
			a.ws.Close()
			<-a.done
		}
	}
}

func benchRelayScale(ctx context.Context, cfg config, t *table) error {
	raiseFileLimit()
	dir, err := os.MkdirTemp(cfg.dir, "hooktap-bench-scale-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	bin, err := buildHooktap(ctx, dir)
	if err != nil {
		return err
	}
	relay, base, err := startRelay(ctx, bin, filepath.Join(dir, "relay"))
	if err != nil {
		return err
	}
	defer relay.stop()
	wsURL := "ws" + strings.TrimPrefix(base, "http") + "/agent"
	pid := relay.cmd.Process.Pid
	client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 128}}
	dialer := &websocket.Dialer{HandshakeTimeout: 30 * time.Second, ReadBufferSize: 1024, WriteBufferSize: 1024}
	var acks atomic.Int64

	connect := func(from, to int) ([]*idleAgent, error) {
		return connectIdle(ctx, dialer, wsURL, "ch", from, to, 64, &acks)
	}
	closeAll := closeIdle

	// Warm up with a few agents so that the baseline includes the code
	// paths and pools every connection uses.
	warm, err := connect(0, 100)
	if err != nil {
		closeAll(warm)
		return fmt.Errorf("warm-up agents: %w", err)
	}
	closeAll(warm)
	waitAgents(client, base, 0)
	client.CloseIdleConnections()
	baseRSS := settledRSS(pid)
	baseG, _ := scrape(client, base, "go_goroutines")

	start := time.Now()
	agents, err := connect(0, scaleAgents)
	if err != nil {
		closeAll(agents)
		return fmt.Errorf("connect %d agents: %w", scaleAgents, err)
	}
	connectTime := time.Since(start)
	waitAgents(client, base, scaleAgents)
	idleRSS := settledRSS(pid)
	perAgent := float64(idleRSS-baseRSS) / scaleAgents
	t.add("relay", fmt.Sprintf("%d idle agents connected in", scaleAgents), connectTime.Round(time.Millisecond).String(), "", nil)
	t.add("relay", "resident memory per idle agent", fmt.Sprintf("%.1f KiB", perAgent), "<= 12 KiB", pass(perAgent <= 12))

	// One delivery to each of 1,000 channels at once (10 agents each).
	start = time.Now()
	var failed atomic.Int64
	var wg sync.WaitGroup
	sem := make(chan struct{}, 100)
	for c := 0; c < scaleChannels; c++ {
		wg.Add(1)
		sem <- struct{}{}
		go func(c int) {
			defer func() { <-sem; wg.Done() }()
			resp, err := client.Post(fmt.Sprintf("%s/h/ch%04d", base, c), "application/json", strings.NewReader(`{"action":"payable.created"}`))
			if err != nil {
				failed.Add(1)
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				failed.Add(1)
			}
		}(c)
	}
	wg.Wait()
	fanout := time.Since(start)
	t.add("relay", fmt.Sprintf("%d channels x %d agents, one delivery each", scaleChannels, scaleAgents/scaleChannels),
		fmt.Sprintf("%s, %.0f deliveries/s", fanout.Round(time.Millisecond), scaleChannels/fanout.Seconds()), "", nil)
	t.add("relay", "senders not answered 200", strconv.FormatInt(failed.Load(), 10), "0", pass(failed.Load() == 0))

	closeAll(agents)
	client.CloseIdleConnections() // keep-alive connections are not agents
	waitAgents(client, base, 0)
	// Sessions wind down asynchronously: wait (bounded) for the count to
	// settle before calling it a leak.
	var afterG float64
	for deadline := time.Now().Add(10 * time.Second); ; {
		if afterG, err = scrape(client, base, "go_goroutines"); err != nil {
			return err
		}
		if afterG <= baseG+5 || time.Now().After(deadline) {
			break
		}
		client.CloseIdleConnections()
		time.Sleep(100 * time.Millisecond)
	}
	afterRSS, _ := rssKiB(pid)
	t.add("relay", "goroutines before / with agents gone", fmt.Sprintf("%.0f / %.0f", baseG, afterG), "no leak", pass(afterG <= baseG+5))
	t.add("relay", "resident memory base / 10k agents / after", fmt.Sprintf("%d / %d / %d KiB", baseRSS, idleRSS, afterRSS), "", nil)
	return nil
}

// waitAgents waits until the relay reports n connected agents.
func waitAgents(client *http.Client, base string, n int) {
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		v, err := scrape(client, base, "hooktap_agents_connected")
		if err != nil && strings.HasPrefix(err.Error(), "no metric") {
			v, err = 0, nil // no channel has agents
		}
		if err == nil && int(v) == n {
			return
		}
		time.Sleep(50 * time.Millisecond) // polling the relay's own gauge
	}
}

// pass is a verdict for table.add.
func pass(ok bool) *bool { return &ok }

// settledRSS is a process's resident memory once it stops changing: right
// after thousands of handshakes the runtime still holds their garbage, and
// an idle relay is what is measured. It waits at most 20 s.
func settledRSS(pid int) int64 {
	prev, _ := rssKiB(pid)
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); {
		time.Sleep(time.Second) // sampling a process from outside: no signal to wait on
		cur, _ := rssKiB(pid)
		if d := cur - prev; d < prev/200 && d > -prev/200 {
			return cur
		}
		prev = cur
	}
	return prev
}
