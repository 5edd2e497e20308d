package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/hooktap/hooktap/relay/natsnode/freeport"
)

// freeAddr returns a loopback address that was free a moment ago, so that a
// relay can be restarted on the same URL.
func freeAddr(t *testing.T) string {
	t.Helper()
	addr, err := freeport.Addr()
	if err != nil {
		t.Fatal(err)
	}
	return addr
}

// countingApp counts, per event id, how often it received a delivery.
type countingApp struct {
	*httptest.Server
	mu     sync.Mutex
	seen   map[string]int
	notify chan struct{}
}

func newCountingApp(t *testing.T, delay time.Duration) *countingApp {
	a := &countingApp{seen: map[string]int{}, notify: make(chan struct{}, 1)}
	a.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body struct{ ID string }
		b, _ := io.ReadAll(r.Body)
		json.Unmarshal(b, &body)
		if delay > 0 {
			time.Sleep(delay) // the app under test is slow on purpose
		}
		a.mu.Lock()
		a.seen[body.ID]++
		a.mu.Unlock()
		select {
		case a.notify <- struct{}{}:
		default:
		}
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(a.Close)
	return a
}

// waitFor waits until the app has seen every id in want.
func (a *countingApp) waitFor(t *testing.T, want []string, timeout time.Duration) {
	t.Helper()
	deadline := time.After(timeout)
	for {
		a.mu.Lock()
		missing := 0
		for _, id := range want {
			if a.seen[id] == 0 {
				missing++
			}
		}
		a.mu.Unlock()
		if missing == 0 {
			return
		}
		select {
		case <-a.notify:
		case <-time.After(200 * time.Millisecond): // redeliveries come after reconnect backoff
		case <-deadline:
			t.Fatalf("%d of %d accepted deliveries never reached the app", missing, len(want))
		}
	}
}

func postEvent(url string, i int) (status int, evt string) {
	evt = fmt.Sprintf("evt_%04d", i)
	body := fmt.Sprintf(`{"id":%q,"action":"payable.created","object_type":"payable","entity_id":"ent_1"}`, evt)
	client := &http.Client{Timeout: 15 * time.Second}
	resp, err := client.Post(url, "application/json", strings.NewReader(body))
	if err != nil {
		return 0, evt
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, evt
}

// storedEvents returns, per event id, how many deliveries the store holds.
func storedEvents(t *testing.T, db string) map[string]int {
	t.Helper()
	out, err := exec.Command(hooktapBin(t), "events", "list", "--db", db, "--json", "--limit", "100000").Output()
	if err != nil {
		t.Fatalf("events list: %v", err)
	}
	n := map[string]int{}
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		var row struct {
			EventID string `json:"event_id"`
		}
		json.Unmarshal([]byte(l), &row)
		n[row.EventID]++
	}
	return n
}

// TestCrashesKeepThePromise kills the agent and then the relay with kill -9
// while deliveries stream in, restarts them, and checks that every delivery
// the relay answered 2xx reached the app and is stored exactly once.
func TestCrashesKeepThePromise(t *testing.T) {
	app := newCountingApp(t, 0)
	addr := freeAddr(t)
	data := t.TempDir()
	db := filepath.Join(t.TempDir(), "agent.db")
	relayArgs := []string{"relay", "--addr", addr, "--data", data, "--response-timeout", "2s"}
	listenArgs := []string{"listen", "--no-web", "--relay", "http://" + addr, "--channel", "crash", "--forward-to", app.URL,
		"--db", db, "--no-tui", "--json"}

	relayProc := startProc(t, relayArgs...)
	relayProc.line(t, "listening on")
	agent := startProc(t, listenArgs...)
	agent.line(t, `"type":"ready"`)

	const n = 300
	ingress := "http://" + addr + "/h/crash"
	var sent atomic.Int32
	var mu sync.Mutex
	var accepted []string
	statuses := map[int]int{}
	jobs := make(chan int)
	var wg sync.WaitGroup
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				status, evt := postEvent(ingress, i)
				mu.Lock()
				statuses[status]++
				if status >= 200 && status < 300 {
					accepted = append(accepted, evt)
				}
				mu.Unlock()
				sent.Add(1)
			}
		}()
	}
	feed := func(from, to int) {
		for i := from; i < to; i++ {
			jobs <- i
		}
	}
	waitSent := func(k int32) {
		for sent.Load() < k {
			time.Sleep(5 * time.Millisecond) // polling a counter the senders bump
		}
	}

	feed(0, 80)
	agent.cmd.Process.Kill() // kill -9 the agent mid-stream
	feed(80, 140)
	waitSent(140)
	agent = startProc(t, listenArgs...)
	agent.line(t, `"type":"ready"`)
	feed(140, 200)
	relayProc.cmd.Process.Kill() // kill -9 the relay with deliveries in flight
	feed(200, 220)               // these find the relay down
	waitSent(220)
	relayProc = startProc(t, relayArgs...)
	relayProc.line(t, "listening on")
	feed(220, n)
	close(jobs)
	wg.Wait()

	mu.Lock()
	want := append([]string(nil), accepted...)
	mu.Unlock()
	app.waitFor(t, want, 60*time.Second)
	agent.stop(t)
	relayProc.stop(t)

	stored := storedEvents(t, db)
	twice := 0
	for _, id := range want {
		switch stored[id] {
		case 1:
		case 0:
			t.Errorf("%s was accepted but is not stored", id)
		default:
			twice++
		}
	}
	app.mu.Lock()
	dupAtApp := 0
	for _, c := range app.seen {
		if c > 1 {
			dupAtApp++
		}
	}
	app.mu.Unlock()
	t.Logf("sent %d: statuses %v; accepted (2xx) %d, reached the app %d, stored twice %d, reached the app more than once %d",
		n, statuses, len(want), len(want), twice, dupAtApp)
	if twice != 0 {
		t.Errorf("%d accepted deliveries are stored more than once", twice)
	}
	if len(want) < n/2 {
		t.Errorf("only %d of %d accepted: the relay was down too long for a useful test", len(want), n)
	}
}

// TestSlowAppBackpressure floods a relay whose agent forwards to a slow app:
// senders get answers (202 once the agent is behind) rather than hanging,
// the relay's memory stays bounded, and everything accepted arrives.
func TestSlowAppBackpressure(t *testing.T) {
	app := newCountingApp(t, 20*time.Millisecond)
	// A small window and few workers put the agent far behind the senders.
	relayProc, relayURL := startRelay(t, "--response-timeout", "2s", "--window", "16")
	db := filepath.Join(t.TempDir(), "agent.db")
	agent := startProc(t, "listen", "--no-web", "--relay", relayURL, "--channel", "slow", "--forward-to", app.URL, "--db", db,
		"--no-tui", "--json", "--concurrency", "4")
	agent.line(t, `"type":"ready"`)

	const n, workers = 2000, 64
	var mu sync.Mutex
	var accepted []string
	statuses := map[int]int{}
	var slowest time.Duration
	jobs := make(chan int)
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				start := time.Now()
				status, evt := postEvent(relayURL+"/h/slow", i)
				took := time.Since(start)
				mu.Lock()
				statuses[status]++
				if status >= 200 && status < 300 {
					accepted = append(accepted, evt)
				}
				slowest = max(slowest, took)
				mu.Unlock()
			}
		}()
	}
	for i := 0; i < n; i++ {
		jobs <- i
	}
	close(jobs)
	wg.Wait()
	rss := residentKiB(t, relayProc.cmd.Process.Pid)
	t.Logf("statuses %v, slowest answer %v, relay RSS %d KiB", statuses, slowest, rss)
	if len(accepted) != n {
		t.Errorf("accepted %d of %d", len(accepted), n)
	}
	if statuses[http.StatusAccepted] == 0 {
		t.Errorf("no sender got 202: the agent was never behind, so this tested nothing")
	}
	if slowest > 5*time.Second {
		t.Errorf("a sender waited %v: the relay let it hang", slowest)
	}
	if rss > 200*1024 {
		t.Errorf("relay resident memory %d KiB after %d queued deliveries", rss, n)
	}
	app.waitFor(t, accepted, 120*time.Second)
	agentRSS := residentKiB(t, agent.cmd.Process.Pid)
	if agentRSS > 200*1024 {
		t.Errorf("agent resident memory %d KiB", agentRSS)
	}
	agent.stop(t)
	relayProc.stop(t)
}

// TestGracefulShutdownDrains sends SIGTERM to the agent while the app is
// still working on a delivery: the delivery finishes, the sender gets the
// app's answer, and the agent exits 0.
func TestGracefulShutdownDrains(t *testing.T) {
	arrived := make(chan struct{}, 1)
	release := make(chan struct{})
	app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		arrived <- struct{}{}
		<-release
		io.WriteString(w, "drained")
	}))
	defer app.Close()
	relayProc, relayURL := startRelay(t)
	agent := startProc(t, "listen", "--no-web", "--relay", relayURL, "--channel", "drain", "--forward-to", app.URL,
		"--db", filepath.Join(t.TempDir(), "a.db"), "--no-tui", "--json")
	agent.line(t, `"type":"ready"`)

	type answer struct {
		status int
		body   string
	}
	got := make(chan answer, 1)
	go func() {
		resp, err := http.Post(relayURL+"/h/drain", "application/json", strings.NewReader(`{}`))
		if err != nil {
			got <- answer{}
			return
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		got <- answer{resp.StatusCode, string(b)}
	}()
	<-arrived
	agent.cmd.Process.Signal(syscall.SIGTERM)
	// Nothing outside the process shows that it has seen the signal; give
	// it a moment so the release below lands during the drain.
	time.Sleep(300 * time.Millisecond)
	close(release)
	if a := <-got; a.status != 200 || a.body != "drained" {
		t.Fatalf("sender got %d %q, want the app's answer", a.status, a.body)
	}
	agent.stop(t)
	relayProc.stop(t)
}
