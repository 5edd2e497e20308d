package agent_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/hooktap/hooktap/inspector/agent"
	"github.com/hooktap/hooktap/inspector/forward"
	"github.com/hooktap/hooktap/inspector/store"
	"github.com/hooktap/hooktap/inspector/testenv"
	"github.com/hooktap/hooktap/relay"
	"github.com/hooktap/hooktap/relay/wire"
)

// TestAttachedRelayFullDiskEachAnswerTrue is hooktap dev's case (the agent
// attached to the relay in memory) of the relay's full disk: the agent
// forwards one delivery at a time to an app that takes 2.5 s, the relay
// sends five at once (its window) and queues the rest. Ten deliveries come
// at once and none can be committed. Each sender must get a 2xx only if
// the delivery reached the app (once), and otherwise one that never does.
// The queued ones used to be answered 503 after 15 s and then forwarded.
func TestAttachedRelayFullDiskEachAnswerTrue(t *testing.T) {
	if !testenv.AsRoot(t) {
		return
	}
	disk := testenv.SmallDisk(t, 8<<20)
	var mu sync.Mutex
	seen := map[string]int{}
	app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		time.Sleep(2500 * time.Millisecond) // a slow app, on purpose
		mu.Lock()
		seen[r.Header.Get("X-Event")]++
		mu.Unlock()
		w.Write([]byte("ok"))
	}))
	defer app.Close()

	srv, err := relay.New(t.Context(), relay.Config{DataDir: filepath.Join(disk, "relay"), Window: 5})
	if err != nil {
		t.Fatal(err)
	}
	rs := httptest.NewServer(srv.Handler())
	defer func() {
		rs.CloseClientConnections()
		rs.Close()
		srv.Close()
	}()
	st, err := store.Open(t.Context(), filepath.Join(t.TempDir(), "agent.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	fwd, err := forward.New(app.URL, 0)
	if err != nil {
		t.Fatal(err)
	}
	ag, err := agent.New(agent.Config{Relay: rs.URL, Channel: "dev", Store: st, Forwarder: fwd, Concurrency: 1,
		Dial: func(context.Context) (*wire.Conn, error) {
			a, r := wire.Pipe()
			srv.Attach(r, rs.URL)
			return a, nil
		}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- ag.Run(ctx) }()
	defer func() {
		cancel()
		<-done
	}()
	testenv.Eventually(t, 10*time.Second, "the agent attached", func() bool { return srv.Agents()["dev"] == 1 })
	testenv.FillDisk(t, filepath.Join(disk, "filler"))

	post := func(id string, size int) int {
		body := append([]byte(`{"id":"`+id+`","pad":"`), bytes.Repeat([]byte("x"), size)...)
		req, _ := http.NewRequest("POST", rs.URL+"/h/dev", bytes.NewReader(append(body, `"}`...)))
		req.Header.Set("X-Event", id)
		resp, err := (&http.Client{Timeout: 30 * time.Second}).Do(req)
		if err != nil {
			t.Errorf("%s: %v", id, err)
			return 0
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	statuses := map[string]int{}
	var wg sync.WaitGroup
	for i := range 10 {
		wg.Go(func() {
			id := fmt.Sprintf("evt_%d", i)
			s := post(id, 1<<20)
			mu.Lock()
			statuses[id] = s
			mu.Unlock()
		})
	}
	wg.Wait()

	// Once there is room again, a last delivery: the agent forwards in
	// channel order, one at a time, so when the app has it, it has
	// forwarded everything it was ever going to.
	if err := os.Remove(filepath.Join(disk, "filler")); err != nil {
		t.Fatal(err)
	}
	if s := post("evt_last", 100); s/100 != 2 {
		t.Fatalf("after freeing the disk: %d", s)
	}
	testenv.Eventually(t, time.Minute, "the last delivery reached the app", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return seen["evt_last"] > 0
	})
	mu.Lock()
	defer mu.Unlock()
	for id, status := range statuses {
		switch n := seen[id]; {
		case status/100 == 2 && n != 1:
			t.Errorf("%s: answered %d, but the app saw it %d times", id, status, n)
		case status/100 != 2 && n != 0:
			t.Errorf("%s: answered %d (retry), but the app saw it %d times: the retry is a duplicate", id, status, n)
		}
	}
}
