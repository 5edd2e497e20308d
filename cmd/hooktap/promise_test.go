package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hooktap/hooktap/inspector/testenv"
)

// The tests in this file hold the relay's promise (a 2xx means the delivery
// reaches the app and is stored once) under ordinary conditions: large
// bodies and answers, backlogs, teammates' filters. They run the real
// binaries on loopback.

// bigApp records, per event id, how often it received a delivery and the
// digest of its body; it answers with answer bytes.
type bigApp struct {
	*httptest.Server
	mu     sync.Mutex
	seen   map[string]int
	sums   map[string]string
	notify chan struct{}
}

func newBigApp(t *testing.T, answer []byte, delay time.Duration) *bigApp {
	a := &bigApp{seen: map[string]int{}, sums: map[string]string{}, notify: make(chan struct{}, 1)}
	a.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		if delay > 0 {
			time.Sleep(delay) // a slow app, on purpose
		}
		id := r.Header.Get("X-Event")
		sum := sha256.Sum256(b)
		a.mu.Lock()
		a.seen[id]++
		a.sums[id] = hex.EncodeToString(sum[:])
		a.mu.Unlock()
		select {
		case a.notify <- struct{}{}:
		default:
		}
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Write(answer)
	}))
	t.Cleanup(a.Close)
	return a
}

// waitAll waits until the app has seen every id of want, and fails with how
// many are missing after timeout.
func (a *bigApp) waitAll(t *testing.T, want map[string]string, timeout time.Duration) {
	t.Helper()
	deadline := time.After(timeout)
	for {
		a.mu.Lock()
		missing := 0
		for id := range want {
			if a.seen[id] == 0 {
				missing++
			}
		}
		a.mu.Unlock()
		if missing == 0 {
			break
		}
		select {
		case <-a.notify:
		case <-time.After(100 * time.Millisecond):
		case <-deadline:
			t.Fatalf("%d of %d accepted deliveries never reached the app within %s", missing, len(want), timeout)
		}
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	for id, sum := range want {
		if a.sums[id] != sum {
			t.Errorf("%s: the app got a body that differs from the one sent", id)
		}
	}
}

// bigBody is a JSON webhook of about n bytes.
func bigBody(i, n int) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, `{"id":"evt_%04d","action":"payable.created","object_type":"payable","entity_id":"ent_1","pad":"`, i)
	for b.Len() < n-2 {
		b.WriteByte("abcdefghijklmnopqrstuvwxyz0123456789"[b.Len()%36])
	}
	b.WriteString(`"}`)
	return b.Bytes()
}

// postBig sends body as event id and returns the status and answer.
func postBig(url, id string, body []byte) (int, []byte, error) {
	req, _ := http.NewRequest("POST", url, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Event", id)
	resp, err := (&http.Client{Timeout: 30 * time.Second}).Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, b, err
}

func digest(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// TestLargeBacklogIsDelivered: 100 webhooks of 150 KB sent while the agent
// is away are all delivered within seconds once it connects. They used to
// be packed 64 to a frame, over the 8 MiB frame limit: the agent
// reconnected forever and the channel was wedged.
func TestLargeBacklogIsDelivered(t *testing.T) {
	app := newBigApp(t, []byte("ok"), 0)
	_, relayURL := startRelay(t)
	ingress := relayURL + "/h/big"

	want := map[string]string{}
	for i := range 100 {
		id := fmt.Sprintf("evt_%04d", i)
		body := bigBody(i, 150<<10)
		status, answer, err := postBig(ingress, id, body)
		if err != nil || status != http.StatusAccepted {
			t.Fatalf("post %d while no agent: %d %s %v", i, status, answer, err)
		}
		want[id] = digest(body)
	}
	db := filepath.Join(t.TempDir(), "agent.db")
	listen := startProc(t, "listen", "--no-web", "--relay", relayURL, "--channel", "big", "--forward-to", app.URL,
		"--db", db, "--no-tui", "--json", "--no-web")
	listen.line(t, `"type":"ready"`)
	app.waitAll(t, want, 20*time.Second)
	listen.stop(t)
	stored := storedEvents(t, db)
	for id := range want {
		if stored[id] != 1 {
			t.Errorf("%s stored %d times", id, stored[id])
		}
	}
	for id, n := range app.seen {
		if n != 1 {
			t.Errorf("%s reached the app %d times", id, n)
		}
	}
}

// TestLargeBodiesLive: concurrent 3 MiB deliveries to a connected agent
// all arrive once; each sender gets the app's answer, or 202 when the
// agent's share of the relay's memory was full and the delivery waited in
// the buffer (then it is delivered in order).
func TestLargeBodiesLive(t *testing.T) {
	app := newBigApp(t, []byte("ok"), 0)
	_, relayURL := startRelay(t)
	db := filepath.Join(t.TempDir(), "agent.db")
	listen := startProc(t, "listen", "--no-web", "--relay", relayURL, "--channel", "big", "--forward-to", app.URL,
		"--db", db, "--no-tui", "--json", "--no-web")
	listen.line(t, `"type":"ready"`)

	const n = 12
	want := map[string]string{}
	codes := map[int]int{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for i := range n {
		id := fmt.Sprintf("evt_%04d", i)
		body := bigBody(i, 3<<20)
		want[id] = digest(body)
		wg.Add(1)
		go func() {
			defer wg.Done()
			status, answer, err := postBig(relayURL+"/h/big", id, body)
			mu.Lock()
			defer mu.Unlock()
			codes[status]++
			if err != nil || (status != http.StatusAccepted && (status != http.StatusOK || string(answer) != "ok")) {
				t.Errorf("%s: sender got %d %.80q %v", id, status, answer, err)
			}
		}()
	}
	wg.Wait()
	app.waitAll(t, want, 20*time.Second)
	listen.stop(t)
	t.Logf("senders got %v", codes)
	for id, k := range storedEvents(t, db) {
		if k != 1 {
			t.Errorf("%s stored %d times", id, k)
		}
	}
	app.mu.Lock()
	defer app.mu.Unlock()
	for id, k := range app.seen {
		if k != 1 {
			t.Errorf("%s reached the app %d times", id, k)
		}
	}
}

// TestLargeAnswersReachSenders: the app answers 2 MiB to each of several
// concurrent deliveries; every sender gets that answer, not a 202 because
// the acks did not fit in a frame.
func TestLargeAnswersReachSenders(t *testing.T) {
	answer := bytes.Repeat([]byte("0123456789abcdef"), 2<<20/16)
	app := newBigApp(t, answer, 0)
	_, relayURL := startRelay(t)
	db := filepath.Join(t.TempDir(), "agent.db")
	listen := startProc(t, "listen", "--no-web", "--relay", relayURL, "--channel", "big", "--forward-to", app.URL,
		"--db", db, "--no-tui", "--json", "--no-web")
	listen.line(t, `"type":"ready"`)

	const n = 16
	var wg sync.WaitGroup
	var mu sync.Mutex
	got := map[int]int{}
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			status, b, err := postBig(relayURL+"/h/big", fmt.Sprintf("evt_%04d", i), bigBody(i, 1000))
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				t.Errorf("post %d: %v", i, err)
				return
			}
			got[status]++
			if status == http.StatusOK && !bytes.Equal(b, answer) {
				t.Errorf("post %d: answer of %d bytes differs from the app's", i, len(b))
			}
		}()
	}
	wg.Wait()
	if got[http.StatusOK] != n {
		t.Errorf("senders got %v, want %d answers of 200", got, n)
	}
	if strings.Contains(listen.stderr.String(), "read limit") {
		t.Errorf("agent log: %s", listen.stderr)
	}
	_ = json.Valid
}

// relayMemoryBound is the most the relay may hold resident while 200
// senders post 4 MiB each at once (800 MiB together) to a slow app. What
// it holds is bounded by its budgets (relay/budget.go): 128 MiB of bodies
// being read or committed (48 MiB per channel), 8 MiB in an agent's live
// queue, 8 MiB per page read back from the buffer, a frame; plus SQLite's
// page caches and the garbage collector's headroom.
const relayMemoryBound = 320 << 10 // KiB

// TestRelayMemoryUnderLargeBodies: 200 concurrent 4 MiB POSTs to a slow app
// keep the relay's peak resident memory under relayMemoryBound. Senders
// that cannot be taken in within the response timeout get 503 (kept
// nowhere, so they retry); every delivery answered 2xx reaches the app
// once and is stored once.
func TestRelayMemoryUnderLargeBodies(t *testing.T) {
	app := newBigApp(t, []byte("ok"), 50*time.Millisecond)
	relayProc, relayURL := startRelay(t)
	db := filepath.Join(t.TempDir(), "agent.db")
	listen := startProc(t, "listen", "--no-web", "--relay", relayURL, "--channel", "mem", "--forward-to", app.URL,
		"--db", db, "--no-tui", "--json", "--no-web", "--concurrency", "8")
	listen.line(t, `"type":"ready"`)

	const n = 200
	var wg sync.WaitGroup
	var mu sync.Mutex
	accepted := map[string]string{}
	refused := map[string]bool{}
	codes := map[int]int{}
	for i := range n {
		id := fmt.Sprintf("evt_%04d", i)
		body := bigBody(i, 4<<20)
		wg.Add(1)
		go func() {
			defer wg.Done()
			status, answer, err := postBig(relayURL+"/h/mem", id, body)
			mu.Lock()
			defer mu.Unlock()
			codes[status]++
			switch {
			case err != nil:
				t.Errorf("%s: %v", id, err)
			case status == http.StatusOK || status == http.StatusAccepted:
				accepted[id] = digest(body)
			case status == http.StatusServiceUnavailable:
				refused[id] = true
			default:
				t.Errorf("%s: sender got %d %.100q", id, status, answer)
			}
		}()
	}
	wg.Wait()
	app.waitAll(t, accepted, 90*time.Second)
	peak := peakKiB(t, relayProc.cmd.Process.Pid)
	listen.stop(t)
	stored := storedEvents(t, db)
	app.mu.Lock()
	defer app.mu.Unlock()
	dups, lost := 0, 0
	for id := range accepted {
		switch {
		case stored[id] == 0 || app.seen[id] == 0:
			lost++
		case stored[id] > 1 || app.seen[id] > 1:
			dups++
		}
	}
	for id := range refused {
		if app.seen[id] > 0 {
			t.Errorf("%s was refused with 503 but reached the app", id)
		}
	}
	t.Logf("sent %d: %v; accepted %d, delivered %d, stored %d, refused %d, duplicated %d, lost %d; relay peak resident %d MiB (bound %d MiB)",
		n, codes, len(accepted), len(app.seen), len(stored), len(refused), dups, lost, peak>>10, relayMemoryBound>>10)
	if dups > 0 || lost > 0 {
		t.Errorf("of the accepted deliveries, %d were duplicated and %d lost", dups, lost)
	}
	if len(accepted) < n/10 {
		t.Errorf("only %d of %d accepted", len(accepted), n)
	}
	if peak > relayMemoryBound {
		t.Errorf("relay peak resident memory %d MiB, over the bound of %d MiB", peak>>10, relayMemoryBound>>10)
	}
}

// TestTeammateFilterKeepsOthersEvents: one teammate's agent takes only
// payable.*; a counterpart.created answered 202 reaches the next agent
// whose filter matches, even though that agent is new (new agents start
// after the furthest position any agent has reached).
func TestTeammateFilterKeepsOthersEvents(t *testing.T) {
	app := newBigApp(t, []byte("ok"), 0)
	_, relayURL := startRelay(t)
	ingress := relayURL + "/h/team"
	payables := startProc(t, "listen", "--no-web", "--relay", relayURL, "--channel", "team", "--forward-to", app.URL,
		"--db", filepath.Join(t.TempDir(), "p.db"), "--no-tui", "--json", "--no-web", "--events", "payable.*")
	payables.line(t, `"type":"ready"`)

	post := func(id, action string) int {
		status, _, err := postBig(ingress, id, []byte(`{"id":"`+id+`","action":"`+action+`"}`))
		if err != nil {
			t.Fatal(err)
		}
		return status
	}
	if s := post("evt_cp", "counterpart.created"); s != http.StatusAccepted {
		t.Fatalf("counterpart.created: %d, want 202 (kept)", s)
	}
	if s := post("evt_p1", "payable.created"); s != http.StatusOK {
		t.Fatalf("payable.created: %d, want the payables agent's 200", s)
	}
	all := startProc(t, "listen", "--no-web", "--relay", relayURL, "--channel", "team", "--forward-to", app.URL,
		"--db", filepath.Join(t.TempDir(), "all.db"), "--no-tui", "--json", "--no-web")
	all.line(t, `"type":"ready"`)
	app.waitAll(t, map[string]string{"evt_cp": digest([]byte(`{"id":"evt_cp","action":"counterpart.created"}`))}, 10*time.Second)
	app.mu.Lock()
	defer app.mu.Unlock()
	if app.seen["evt_p1"] != 1 || app.seen["evt_cp"] != 1 {
		t.Errorf("the app saw %v, want each once", app.seen)
	}
}

// TestRelayFullDiskTellsTheTruth: the relay's disk fills up. A delivery the
// relay could not commit, but that its agent took live (deliveries are
// published while they are committed), is answered with the agent's answer:
// the agent has it stored. It used to get "503 could not store", and the
// sender's retry became a second delivery. One that no agent took gets 503
// and reaches nobody. Once there is room again, all is as before.
func TestRelayFullDiskTellsTheTruth(t *testing.T) {
	if !testenv.AsRoot(t) {
		return
	}
	disk := testenv.SmallDisk(t, 8<<20)
	app := newBigApp(t, []byte("ok"), 0)
	_, relayURL := startRelay(t, "--data", filepath.Join(disk, "relay"))
	db := filepath.Join(t.TempDir(), "agent.db")
	listen := startProc(t, "listen", "--no-web", "--relay", relayURL, "--channel", "full", "--forward-to", app.URL,
		"--db", db, "--no-tui", "--json", "--no-web", "--events", "payable.*")
	listen.line(t, `"type":"ready"`)
	if s, _, err := postBig(relayURL+"/h/full", "evt_warm", bigBody(0, 1000)); err != nil || s != http.StatusOK {
		t.Fatalf("before the disk fills: %d %v", s, err)
	}
	testenv.FillDisk(t, filepath.Join(disk, "filler"))

	refused := map[string]bool{}
	answered := 0
	for i := 1; i <= 5; i++ {
		id := fmt.Sprintf("evt_%04d", i)
		status, body, err := postBig(relayURL+"/h/full", id, bigBody(i, 1<<20))
		switch {
		case err != nil:
			t.Fatal(err)
		case status == http.StatusOK:
			answered++
		case status == http.StatusServiceUnavailable:
			refused[id] = true
		default:
			t.Errorf("%s: %d %q", id, status, body)
		}
	}
	// No agent subscribes to this one: nobody has it, so the truth is 503.
	status, body, err := postBig(relayURL+"/h/full", "evt_nobody", []byte(`{"action":"counterpart.created","pad":"`+strings.Repeat("x", 1<<20)+`"}`))
	if err != nil || status != http.StatusServiceUnavailable {
		t.Errorf("a delivery nobody took while the disk is full: %d %q %v, want 503", status, body, err)
	}
	t.Logf("disk full: %d answered with the app's answer, %d refused", answered, len(refused))
	if answered == 0 {
		t.Errorf("no delivery was answered by the agent while the relay's disk was full")
	}

	if err := os.Remove(filepath.Join(disk, "filler")); err != nil {
		t.Fatal(err)
	}
	if s, _, err := postBig(relayURL+"/h/full", "evt_after", bigBody(9, 1000)); err != nil || s != http.StatusOK {
		t.Fatalf("after freeing the disk: %d %v", s, err)
	}
	listen.stop(t) // it has handled all it was sent
	app.mu.Lock()
	defer app.mu.Unlock()
	refused["evt_nobody"] = true
	for id := range refused {
		if app.seen[id] != 0 {
			t.Errorf("%s: the sender was told 503 (retry), but it reached the app", id)
		}
	}
	for i := 1; i <= 5; i++ {
		if id := fmt.Sprintf("evt_%04d", i); !refused[id] && app.seen[id] != 1 {
			t.Errorf("%s: answered 200, but the app saw it %d times", id, app.seen[id])
		}
	}
}
