package inspector

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hooktap/hooktap/relay"
)

// The tests in this file put a store on a small tmpfs and fill it.

// asRoot reports whether the calling test may mount file systems. A test
// that is not root runs itself again under `unshare -rm` (root in user and
// mount namespaces of its own, which is all a tmpfs needs), reports that
// run's result and gets false: it returns at once.
func asRoot(t *testing.T) bool {
	t.Helper()
	if os.Geteuid() == 0 {
		return true
	}
	if os.Getenv("HOOKTAP_TEST_UNSHARED") != "" {
		t.Fatal("not root even under unshare -rm")
	}
	cmd := exec.Command("unshare", "-rm", os.Args[0], "-test.run", "^"+t.Name()+"$", "-test.count=1", "-test.v")
	cmd.Env = append(os.Environ(), "HOOKTAP_TEST_UNSHARED=1")
	out, err := cmd.CombinedOutput()
	t.Logf("under unshare -rm:\n%s", out)
	if err != nil {
		t.Fatalf("unshare -rm: %v (the test mounts a tmpfs: run it as root, or where unprivileged user namespaces are allowed)", err)
	}
	return false
}

// smallDisk mounts a tmpfs of size bytes for the test and returns it.
func smallDisk(t *testing.T, size int) string {
	t.Helper()
	dir := t.TempDir()
	if err := syscall.Mount("hooktap-test", dir, "tmpfs", 0, fmt.Sprintf("size=%d,mode=0700", size)); err != nil {
		t.Fatalf("mount tmpfs: %v", err)
	}
	t.Cleanup(func() { syscall.Unmount(dir, syscall.MNT_DETACH) })
	return dir
}

// fillDisk writes path until the file system has no room left.
func fillDisk(t *testing.T, path string) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, chunk := range []int{64 << 10, 4 << 10, 512} {
		b := make([]byte, chunk)
		for {
			if _, err := f.Write(b); err != nil {
				if !errors.Is(err, syscall.ENOSPC) {
					t.Fatal(err)
				}
				break
			}
		}
	}
}

// syncBuffer is a log destination that tests read while it is written.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// eventually polls cond until it holds, and fails the test after timeout.
func eventually(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v", what, timeout)
		}
		time.Sleep(20 * time.Millisecond) // polling state the code under test moves
	}
}

// The full-text index has a file of its own, written in the background: on
// a full disk it fails, says so once, and catches up by itself once there
// is room, with no new delivery or search to ask it.
func TestIndexRetriesAfterFullDisk(t *testing.T) {
	if !asRoot(t) {
		return
	}
	disk := smallDisk(t, 4<<20)
	s, err := Open(t.Context(), filepath.Join(disk, "a.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var logs syncBuffer
	s.SetLogger(slog.New(slog.NewTextHandler(&logs, nil)))

	// Hold the indexer back while deliveries are stored and the disk
	// fills: then it finds them to index, and no room.
	s.indexMu.Lock()
	var pending []<-chan error
	for i := range 300 {
		d := &Delivery{ID: fmt.Sprintf("dlv_%04d", i), Channel: "dev", ReceivedAt: time.Now(), Method: "POST",
			Header: http.Header{"Content-Type": {"application/json"}},
			Body:   fmt.Appendf(nil, `{"id":"evt_%04d","note":%q}`, i, strings.Repeat(fmt.Sprintf("word%d ", i), 100))}
		pending = append(pending, s.Insert(d))
	}
	for _, p := range pending {
		if err := <-p; err != nil {
			t.Fatal(err)
		}
	}
	filler := filepath.Join(disk, "filler")
	fillDisk(t, filler)
	s.indexMu.Unlock()
	eventually(t, 10*time.Second, "the index's error in the log", func() bool {
		return strings.Contains(logs.String(), "the full-text index cannot write")
	})

	// Writes of the store go on meanwhile (here they fail: the disk is
	// full), never waiting for the index.
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	if err := Wait(ctx, s.Insert(&Delivery{ID: "dlv_full", Channel: "dev", ReceivedAt: time.Now(), Body: bytes.Repeat([]byte("x"), 64<<10)})); err == nil || ctx.Err() != nil {
		t.Fatalf("a write on the full disk: %v (context: %v)", err, ctx.Err())
	}

	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	var through int64
	eventually(t, 30*time.Second, "the index catching up by itself", func() bool {
		if err := s.db.R.QueryRow(`SELECT through FROM search.indexed`).Scan(&through); err != nil {
			t.Fatal(err)
		}
		return through >= 300
	})
	if got := logs.String(); strings.Count(got, "the full-text index cannot write") != 1 || !strings.Contains(got, "the full-text index writes again") {
		t.Errorf("log:\n%s", got)
	}
	found, err := s.List(t.Context(), Query{Search: "word299"})
	if err != nil || len(found) != 1 || found[0].ID != "dlv_0299" {
		t.Fatalf("search after recovery: %v %v", ids(found), err)
	}
}

// cutter is a TCP proxy whose connections the test can cut, as a network
// would.
type cutter struct {
	ln    net.Listener
	mu    sync.Mutex
	conns []net.Conn
}

func newCutter(t *testing.T, target string) *cutter {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	c := &cutter{ln: ln}
	t.Cleanup(func() { ln.Close(); c.cut() })
	go func() {
		for {
			in, err := ln.Accept()
			if err != nil {
				return
			}
			out, err := net.Dial("tcp", target)
			if err != nil {
				in.Close()
				continue
			}
			c.mu.Lock()
			c.conns = append(c.conns, in, out)
			c.mu.Unlock()
			go func() { io.Copy(out, in); out.Close() }()
			go func() { io.Copy(in, out); in.Close() }()
		}
	}()
	return c
}

func (c *cutter) cut() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, conn := range c.conns {
		conn.Close()
	}
	c.conns = nil
}

// A delivery that the relay sends again after a reconnect, while its first
// copy waits for a full disk, is not forwarded again: once the first copy
// is recorded, the second is answered from the store.
func TestReconnectWhileDiskFullForwardsOnce(t *testing.T) {
	if !asRoot(t) {
		return
	}
	disk := smallDisk(t, 4<<20)
	store, err := Open(t.Context(), filepath.Join(disk, "a.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()

	var mu sync.Mutex
	seen := map[string]int{}
	app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		seen[string(b)]++
		mu.Unlock()
		w.Write([]byte("ok"))
	}))
	defer app.Close()
	reached := func() (n, dups int) {
		mu.Lock()
		defer mu.Unlock()
		for _, c := range seen {
			if c > 1 {
				dups++
			}
		}
		return len(seen), dups
	}

	srv, err := relay.New(t.Context(), relay.Config{DataDir: t.TempDir(), ResponseTimeout: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	rs := httptest.NewServer(srv.Handler())
	defer rs.Close()
	link := newCutter(t, rs.Listener.Addr().String())
	fwd, err := NewForwarder(app.URL, 0)
	if err != nil {
		t.Fatal(err)
	}
	bus := NewBus()
	events, unsub := bus.Subscribe(1024)
	defer unsub()
	agent, err := NewAgent(AgentConfig{Relay: "http://" + link.ln.Addr().String(), Channel: "dev", Store: store,
		Forwarder: fwd, Bus: bus, Concurrency: 4})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- agent.Run(ctx) }()
	defer func() { cancel(); <-done }()
	connected := func() {
		t.Helper()
		for {
			select {
			case ev := <-events:
				if ev.Kind == EventConn && ev.Conn.State == StateConnected {
					return
				}
			case <-time.After(10 * time.Second):
				t.Fatal("agent did not connect")
			}
		}
	}
	connected()
	post := func(i int) {
		// Large enough that the store's files must grow to take it.
		body := fmt.Sprintf(`{"id":"evt_%d","pad":%q}`, i, strings.Repeat("x", 256<<10))
		resp, err := http.Post(rs.URL+"/h/dev", "application/json", strings.NewReader(body))
		if err != nil {
			t.Error(err)
			return
		}
		resp.Body.Close()
		if resp.StatusCode/100 != 2 {
			t.Errorf("delivery %d: %d", i, resp.StatusCode)
		}
	}

	post(0)
	fillDisk(t, filepath.Join(disk, "filler"))
	// The first is forwarded and waits for the disk; the second is not
	// forwarded while the store cannot write.
	post(1)
	post(2)
	eventually(t, 10*time.Second, "one forwarded and the store failing", func() bool {
		n, _ := reached()
		return n == 2 && bus.Store().Failing()
	})
	link.cut()
	connected()
	// The relay sends both again, and the agent's free workers hold the
	// copies beside the first delivery's record, still waiting.
	eventually(t, 10*time.Second, "the copies received", func() bool { return bus.Store().Waiting == 3 })

	if err := os.Remove(filepath.Join(disk, "filler")); err != nil {
		t.Fatal(err)
	}
	eventually(t, 20*time.Second, "the store writing again", func() bool { return !bus.Store().Failing() })
	eventually(t, 20*time.Second, "every delivery stored", func() bool {
		n, err := store.Count(t.Context())
		return err == nil && n == 3
	})
	// The copies are acked from the store: nothing is left in flight.
	eventually(t, 20*time.Second, "every copy acked", func() bool { return agent.outstanding.Load() == 0 })
	if n, dups := reached(); n != 3 || dups != 0 {
		t.Fatalf("the app received %d deliveries, %d of them more than once", n, dups)
	}
}
