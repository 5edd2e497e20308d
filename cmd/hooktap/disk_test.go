package main

import (
	"database/sql"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hooktap/hooktap/inspector/live"
	"github.com/hooktap/hooktap/inspector/testenv"
)

// distinct is how many deliveries reached the app.
func (a *countingApp) distinct() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.seen)
}

// duplicates is how many deliveries reached the app more than once.
func (a *countingApp) duplicates() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	n := 0
	for _, c := range a.seen {
		if c > 1 {
			n++
		}
	}
	return n
}

// agentOutput counts what `listen --json` prints, line by line.
type agentOutput struct {
	mu        sync.Mutex
	delivered int      // "delivery" lines: deliveries recorded
	store     []string // "store" lines
}

func watchOutput(p *proc) *agentOutput {
	o := &agentOutput{}
	go func() {
		for l := range p.lines {
			o.mu.Lock()
			switch {
			case strings.Contains(l, `"type":"delivery"`):
				o.delivered++
			case strings.Contains(l, `"type":"store"`):
				o.store = append(o.store, l)
			}
			o.mu.Unlock()
		}
	}()
	return o
}

// agentStatus is the part of the web inspector's GET /api/status this
// test reads.
type agentStatus struct {
	Deliveries   int    `json:"deliveries"`
	StoreError   string `json:"store_error"`
	StoreWaiting int    `json:"store_waiting"`
}

func getStatus(t *testing.T, web string) agentStatus {
	t.Helper()
	var st agentStatus
	resp, err := http.Get("http://" + web + "/api/status")
	if err != nil {
		t.Fatalf("status: %v", err)
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		t.Fatalf("status: %v", err)
	}
	return st
}

// pollStatus polls the agent's status until ok holds.
func pollStatus(t *testing.T, web string, timeout time.Duration, what string, ok func(agentStatus) bool) agentStatus {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		st := getStatus(t, web)
		if ok(st) {
			return st
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v; last status %+v", what, timeout, st)
		}
		time.Sleep(50 * time.Millisecond) // polling the agent's status
	}
}

// indexed reads, from the store's files, how far the full-text index goes
// and the newest delivery's seq.
func indexed(t *testing.T, db string) (through, last int64) {
	t.Helper()
	for _, q := range []struct {
		path, query string
		into        *int64
	}{{db + "-search", `SELECT through FROM indexed`, &through}, {db, `SELECT COALESCE(MAX(seq), 0) FROM deliveries`, &last}} {
		conn, err := sql.Open("sqlite", "file:"+q.path+"?mode=ro")
		if err != nil {
			t.Fatal(err)
		}
		err = conn.QueryRow(q.query).Scan(q.into)
		conn.Close()
		if err != nil {
			t.Fatalf("%s: %v", q.path, err)
		}
	}
	return through, last
}

// postPadded posts event i with a body of about 1.5 KB.
func postPadded(url string, i int) (status int, evt string) {
	evt = fmt.Sprintf("evt_%04d", i)
	body := fmt.Sprintf(`{"id":%q,"action":"payable.created","object_type":"payable","entity_id":"ent_1","note":%q}`,
		evt, strings.Repeat("disk full ", 150))
	client := &http.Client{Timeout: 15 * time.Second}
	resp, err := client.Post(url, "application/json", strings.NewReader(body))
	if err != nil {
		return 0, evt
	}
	resp.Body.Close()
	return resp.StatusCode, evt
}

// TestFullDiskHoldsAndResumes puts the agent's store on a small tmpfs, fills
// it while deliveries stream in, and frees it again, without restarting
// anything: meanwhile the agent forwards no more than what it had in
// flight and says that the store cannot write; afterwards every accepted
// delivery has reached the app once and is stored once, and a restart
// forwards nothing again.
func TestFullDiskHoldsAndResumes(t *testing.T) {
	if !testenv.AsRoot(t) {
		return
	}
	disk := testenv.SmallDisk(t, 6<<20)
	db := filepath.Join(disk, "a.db")
	filler := filepath.Join(disk, "filler")
	app := newCountingApp(t, 0)
	const concurrency = 4
	relayProc, relayURL := startRelay(t, "--window", "64", "--response-timeout", "500ms")
	web := freeAddr(t)
	listenArgs := []string{"listen", "--relay", relayURL, "--channel", "disk", "--forward-to", app.URL, "--db", db,
		"--no-tui", "--json", "--web", web, "--concurrency", fmt.Sprint(concurrency)}
	agent := startProc(t, listenArgs...)
	agent.line(t, `"type":"ready"`)
	out := watchOutput(agent)
	ingress := relayURL + "/h/disk"

	// A few go through while there is room.
	const before, n = 10, 300
	var accepted []string
	for i := range before {
		status, evt := postPadded(ingress, i)
		if status != http.StatusOK {
			t.Fatalf("before the disk filled: %s got %d", evt, status)
		}
		accepted = append(accepted, evt)
	}

	testenv.FillDisk(t, filler)
	var mu sync.Mutex
	statuses := map[int]int{http.StatusOK: before}
	jobs := make(chan int)
	var wg sync.WaitGroup
	for range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				status, evt := postPadded(ingress, i)
				mu.Lock()
				statuses[status]++
				if status >= 200 && status < 300 {
					accepted = append(accepted, evt)
				}
				mu.Unlock()
			}
		}()
	}
	for i := before; i < before+n; i++ {
		jobs <- i
	}
	close(jobs)
	wg.Wait()

	// The store cannot write: the status says so, and the app has received
	// no more than the agent had in flight beyond what is recorded.
	full := pollStatus(t, web, 30*time.Second, "store error in /api/status", func(st agentStatus) bool { return st.StoreError != "" })
	var unrecorded int
	deadline := time.Now().Add(10 * time.Second)
	for {
		reached := app.distinct()
		out.mu.Lock()
		unrecorded = reached - out.delivered
		out.mu.Unlock()
		if unrecorded <= concurrency {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("while the disk is full the app received %d deliveries that are not recorded; at most %d (those in flight) may be", unrecorded, concurrency)
		}
		time.Sleep(50 * time.Millisecond) // the agent's output lags its records
	}
	if d := app.duplicates(); d != 0 {
		t.Fatalf("while the disk is full, %d deliveries reached the app more than once", d)
	}
	out.mu.Lock()
	storeLines := append([]string(nil), out.store...)
	recordedWhileFull := out.delivered
	out.mu.Unlock()
	if len(storeLines) == 0 || !strings.Contains(storeLines[0], `"writable":false`) {
		t.Errorf("no store line on stdout while the disk is full: %q", storeLines)
	}
	t.Logf("disk full: status %+v; app reached %d, recorded %d, forwarded and not recorded %d",
		full, app.distinct(), recordedWhileFull, unrecorded)

	// Room again: everything arrives, without a restart.
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	want := append([]string(nil), accepted...)
	mu.Unlock()
	app.waitFor(t, want, 60*time.Second)
	pollStatus(t, web, 30*time.Second, "everything stored and the store error gone", func(st agentStatus) bool {
		return st.StoreError == "" && st.Deliveries == len(want)
	})
	// The full-text index catches up by itself, with no search asking.
	deadline = time.Now().Add(30 * time.Second)
	for {
		through, last := indexed(t, db)
		if through == last {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the full-text index stays behind: through seq %d of %d", through, last)
		}
		time.Sleep(100 * time.Millisecond) // polling the index's watermark
	}
	agent.stop(t)
	logs := agent.stderr.String()
	if c := strings.Count(logs, `level=ERROR msg="the store cannot write`); c != 1 {
		t.Errorf("want one error line saying the store cannot write, got %d:\n%s", c, logs)
	}
	if !strings.Contains(logs, "store writes again") {
		t.Errorf("no line saying the store recovered:\n%s", logs)
	}
	out.mu.Lock()
	if last := out.store[len(out.store)-1]; !strings.Contains(last, `"writable":true`) {
		t.Errorf("last store line %s", last)
	}
	out.mu.Unlock()

	stored := storedEvents(t, db)
	lost, storedTwice := 0, 0
	for _, id := range want {
		switch stored[id] {
		case 1:
		case 0:
			lost++
			t.Errorf("%s was accepted but is not stored", id)
		default:
			storedTwice++
		}
	}

	// A restart forwards nothing again: the relay sends what it still has
	// in order, so once a new delivery arrives, anything older would have.
	agent = startProc(t, listenArgs...)
	agent.line(t, `"type":"ready"`)
	if status, evt := postPadded(ingress, 9999); status != http.StatusOK {
		t.Fatalf("after restart: %s got %d", evt, status)
	}
	app.waitFor(t, []string{"evt_9999"}, 20*time.Second)
	agent.stop(t)
	relayProc.stop(t)

	dups := app.duplicates()
	t.Logf("sent %d: statuses %v; accepted %d, delivered %d, stored %d, stored twice %d, reached the app twice %d, lost %d",
		before+n, statuses, len(want), app.distinct()-1, len(stored), storedTwice, dups, lost)
	if storedTwice != 0 || dups != 0 {
		t.Errorf("%d accepted deliveries stored twice, %d reached the app twice", storedTwice, dups)
	}
}

// The line reporter of --no-tui says when the store stops writing and when
// it writes again, once each, not for every change in between.
func TestReporterStoreLines(t *testing.T) {
	full := live.StoreHealth{Err: "commit: database or disk is full (13)", Since: time.Now(), Waiting: 5}
	more := full
	more.Waiting = 9
	events := []live.Event{{Kind: live.EventStore, Store: full}, {Kind: live.EventStore, Store: more},
		{Kind: live.EventStore}, {Kind: live.EventStore}}
	for _, tc := range []struct {
		json bool
		want []string
	}{
		{false, []string{"store cannot write (disk full): deliveries are held and retried, 5 waiting", "store writes again: held deliveries resume"}},
		{true, []string{`{"type":"store","writable":false,"error":"commit: database or disk is full (13)","waiting":5}`, `{"type":"store","writable":true}`}},
	} {
		var b strings.Builder
		r := newReporter(&b, tc.json, "a.db")
		for _, ev := range events {
			r.report(ev)
		}
		lines := strings.Split(strings.TrimSpace(b.String()), "\n")
		if len(lines) != len(tc.want) {
			t.Fatalf("json %v: %q", tc.json, lines)
		}
		for i, w := range tc.want {
			if !strings.HasSuffix(lines[i], w) {
				t.Errorf("json %v: line %q, want it to end with %q", tc.json, lines[i], w)
			}
		}
	}
}
