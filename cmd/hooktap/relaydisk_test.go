package main

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hooktap/hooktap/inspector/testenv"
)

// TestRelayFullDiskNewAgentKeepsTrying: three deliveries are accepted (202)
// while no agent is connected, then the relay's disk fills up. A new agent
// (a teammate's first run, or a fresh --db) connects to fetch them: the
// relay cannot write the new agent's cursor, refuses it with "relay storage
// error" under the code for a bad request, and `listen` takes that as a
// refusal for good and exits 1 ("hooktap: refused by relay: relay storage
// error") instead of retrying. Once the disk has room, nobody is there to
// receive the three accepted deliveries. A full disk is a passing state,
// like a lost connection: the agent should keep trying and get them.
func TestRelayFullDiskNewAgentKeepsTrying(t *testing.T) {
	if !testenv.AsRoot(t) {
		return
	}
	disk := testenv.SmallDisk(t, 4<<20)
	app := newCountingApp(t, 0)
	_, relayURL := startRelay(t, "--data", filepath.Join(disk, "relay"))
	var want []string
	for i := range 3 {
		status, evt := postEvent(relayURL+"/h/full", i)
		if status != http.StatusAccepted {
			t.Fatalf("post %d: %d", i, status)
		}
		want = append(want, evt)
	}
	testenv.FillDisk(t, filepath.Join(disk, "filler"))

	listen := startProc(t, "listen", "--no-web", "--relay", relayURL, "--channel", "full", "--forward-to", app.URL,
		"--db", filepath.Join(t.TempDir(), "new.db"), "--no-tui", "--json", "--no-web")
	select {
	case err := <-listen.done:
		listen.done <- err // for Cleanup
		t.Fatalf("listen gave up while the relay's disk was full (%v); stderr: %s", err, listen.stderr)
	case <-time.After(3 * time.Second): // still trying: what a passing state deserves
	}
	if err := os.Remove(filepath.Join(disk, "filler")); err != nil {
		t.Fatal(err)
	}
	app.waitFor(t, want, 40*time.Second)
}

// TestRelayFullDiskSlowAppNo503ForDelivered: the relay's disk is full and
// the app takes longer than --response-timeout. The relay publishes the
// delivery to the agent while it tries to commit it; the commit fails, the
// agent's answer does not come in time, and the sender gets "503 could not
// store the delivery; retry later". But the agent still has it and
// forwards it: the app gets it, and the sender's retry will be a second
// delivery (issue 15, point 5, for answers slower than the timeout). Now
// either the sender gets the agent's answer (a 504: the agent gives the
// app no longer than the relay's --response-timeout), or 503 and the
// delivery is withdrawn (which of the two depends on whether the session
// sent it before the commit failed): then it must never reach the app.
func TestRelayFullDiskSlowAppNo503ForDelivered(t *testing.T) {
	if !testenv.AsRoot(t) {
		return
	}
	disk := testenv.SmallDisk(t, 8<<20)
	app := newBigApp(t, []byte("ok"), 2*time.Second)
	_, relayURL := startRelay(t, "--data", filepath.Join(disk, "relay"), "--response-timeout", "1s")
	listen := startProc(t, "listen", "--no-web", "--relay", relayURL, "--channel", "full", "--forward-to", app.URL,
		"--db", filepath.Join(t.TempDir(), "agent.db"), "--no-tui", "--json", "--no-web")
	listen.line(t, `"type":"ready"`)
	testenv.FillDisk(t, filepath.Join(disk, "filler"))

	status, body, err := postBig(relayURL+"/h/full", "evt_slow", []byte(`{"id":"evt_slow","action":"payable.created"}`))
	if err != nil {
		t.Fatal(err)
	}
	if status != http.StatusServiceUnavailable {
		listen.line(t, `"type":"delivery"`) // the agent has forwarded and recorded it
	} else {
		// Told to retry: it must reach nobody. Once there is room, a later
		// delivery of the channel goes through; evt_slow, before it, would
		// have by then.
		if err := os.Remove(filepath.Join(disk, "filler")); err != nil {
			t.Fatal(err)
		}
		after := []byte(`{"id":"evt_after","action":"payable.created"}`)
		for deadline := time.Now().Add(30 * time.Second); ; {
			st, _, err := postBig(relayURL+"/h/full", "evt_after", after)
			if err != nil {
				t.Fatal(err)
			}
			if st != http.StatusServiceUnavailable {
				break // stored: the app's answer is a 504 (slower than the timeout)
			}
			if time.Now().After(deadline) {
				t.Fatal("the relay still could not store after the disk was freed")
			}
			time.Sleep(100 * time.Millisecond) // the relay notices the room on its next commit
		}
		sum := sha256.Sum256(after)
		app.waitAll(t, map[string]string{"evt_after": hex.EncodeToString(sum[:])}, 20*time.Second)
	}
	app.mu.Lock()
	seen := app.seen["evt_slow"]
	app.mu.Unlock()
	if status == http.StatusServiceUnavailable && seen > 0 {
		t.Fatalf("the sender was told %d %q (retry), but the app got the delivery %d time(s): its retry will be a duplicate", status, body, seen)
	}
}

// TestAgentStoppedWhileDiskFullSaysSo: the agent's disk is full; a delivery
// is forwarded (the app has it) and its record fails. Stopped before there
// is room again, the agent cannot keep what it could not record: when it
// comes back, the relay sends the delivery again and it is forwarded again
// (README, Reliability: at most --concurrency of them). The agent says so
// on the way out, and the delivery is stored once.
func TestAgentStoppedWhileDiskFullSaysSo(t *testing.T) {
	if !testenv.AsRoot(t) {
		return
	}
	disk := testenv.SmallDisk(t, 6<<20)
	db := filepath.Join(disk, "a.db")
	app := newCountingApp(t, 0)
	_, relayURL := startRelay(t, "--response-timeout", "500ms")
	args := []string{"listen", "--no-web", "--relay", relayURL, "--channel", "full", "--forward-to", app.URL, "--db", db,
		"--no-tui", "--json", "--no-web"}
	agent := startProc(t, args...)
	agent.line(t, `"type":"ready"`)
	if status, _ := postPadded(relayURL+"/h/full", 0); status != http.StatusOK {
		t.Fatalf("before the disk filled: %d", status)
	}
	testenv.FillDisk(t, filepath.Join(disk, "filler"))
	status, evt := postPadded(relayURL+"/h/full", 1)
	if status != http.StatusAccepted {
		t.Fatalf("with the store's disk full: %d, want 202 (kept)", status)
	}
	app.waitFor(t, []string{evt}, 10*time.Second) // forwarded; its record fails
	agent.line(t, `"type":"store"`)
	agent.stop(t)
	if !strings.Contains(agent.stderr.String(), "stopping with a delivery forwarded and not recorded") {
		t.Errorf("the agent stopped without a word about the delivery it could not record:\n%s", agent.stderr)
	}

	if err := os.Remove(filepath.Join(disk, "filler")); err != nil {
		t.Fatal(err)
	}
	agent = startProc(t, args...)
	agent.line(t, `"type":"ready"`)
	agent.line(t, `"type":"delivery"`) // the resent one, recorded now
	app.mu.Lock()
	seen := app.seen[evt]
	app.mu.Unlock()
	if seen != 2 {
		t.Errorf("%s reached the app %d times, want twice: once before the stop, once after", evt, seen)
	}
	agent.stop(t)
	if n := storedEvents(t, db)[evt]; n != 1 {
		t.Errorf("%s stored %d times, want once", evt, n)
	}
}

// TestRelayFullDiskEachAnswerTrue: the relay's disk is full and its agent
// (one delivery forwarded at a time, to an app that takes 2.5 s) is
// connected. Ten deliveries come at once: the relay's window (5) sends five,
// the other five wait in the session's queue. None can be committed. Each
// sender must be told the truth: a 2xx when the delivery reached the app
// (once), anything else only when it never does. The queued ones used to be
// answered 503 after 15 s and then sent to the agent all the same, which
// forwarded them: a retrying sender reaches the app twice. Two more
// deliveries, one after the other, follow.
func TestRelayFullDiskEachAnswerTrue(t *testing.T) {
	if !testenv.AsRoot(t) {
		return
	}
	disk := testenv.SmallDisk(t, 8<<20)
	app := newBigApp(t, []byte("ok"), 2500*time.Millisecond)
	_, relayURL := startRelay(t, "--data", filepath.Join(disk, "relay"), "--window", "5")
	listen := startProc(t, "listen", "--no-web", "--relay", relayURL, "--channel", "full", "--forward-to", app.URL,
		"--db", filepath.Join(t.TempDir(), "agent.db"), "--no-tui", "--json", "--no-web", "--concurrency", "1")
	listen.line(t, `"type":"ready"`)
	testenv.FillDisk(t, filepath.Join(disk, "filler"))

	statuses := map[string]int{}
	var mu sync.Mutex
	post := func(i int) {
		id := fmt.Sprintf("evt_%04d", i)
		status, body, err := postBig(relayURL+"/h/full", id, bigBody(i, 1<<20))
		if err != nil {
			t.Errorf("%s: %v", id, err)
		}
		if status/100 != 2 && status != http.StatusServiceUnavailable {
			t.Errorf("%s: %d %q", id, status, body)
		}
		mu.Lock()
		statuses[id] = status
		mu.Unlock()
	}
	var wg sync.WaitGroup
	for i := 1; i <= 10; i++ {
		wg.Go(func() { post(i) })
	}
	wg.Wait()
	post(11)
	post(12)

	// Once there is room again, a last delivery: the agent forwards in
	// channel order, one at a time, so when the app has it, the agent has
	// forwarded everything it was ever going to.
	if err := os.Remove(filepath.Join(disk, "filler")); err != nil {
		t.Fatal(err)
	}
	last := bigBody(99, 1000)
	if s, _, err := postBig(relayURL+"/h/full", "evt_0099", last); err != nil || s/100 != 2 {
		t.Fatalf("after freeing the disk: %d %v", s, err)
	}
	app.waitAll(t, map[string]string{"evt_0099": digest(last)}, 30*time.Second)
	listen.stop(t)

	app.mu.Lock()
	defer app.mu.Unlock()
	ok := 0
	for id, status := range statuses {
		switch seen := app.seen[id]; {
		case status/100 == 2 && seen != 1:
			t.Errorf("%s: answered %d, but the app saw it %d times", id, status, seen)
		case status/100 != 2 && seen != 0:
			t.Errorf("%s: answered %d (retry), but the app saw it %d times: the retry is a duplicate", id, status, seen)
		case status/100 == 2:
			ok++
		}
	}
	t.Logf("disk full: %d of %d answered 2xx", ok, len(statuses))
}
