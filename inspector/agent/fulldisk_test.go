package agent

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hooktap/hooktap/inspector/forward"
	"github.com/hooktap/hooktap/inspector/live"
	"github.com/hooktap/hooktap/inspector/store"
	"github.com/hooktap/hooktap/inspector/testenv"
	"github.com/hooktap/hooktap/relay"
)

// The tests in this file put a store on a small tmpfs and fill it.

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
	if !testenv.AsRoot(t) {
		return
	}
	disk := testenv.SmallDisk(t, 4<<20)
	store, err := store.Open(t.Context(), filepath.Join(disk, "a.db"))
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
	fwd, err := forward.New(app.URL, 0)
	if err != nil {
		t.Fatal(err)
	}
	bus := live.NewBus()
	events, unsub := bus.Subscribe(1024)
	defer unsub()
	agent, err := New(Config{Relay: "http://" + link.ln.Addr().String(), Channel: "dev", Store: store,
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
				if ev.Kind == live.EventRelay && ev.Relay.State == live.StateConnected {
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
	// Its sender may have had 202 before the agent recorded it (a slow
	// machine: the response timeout is short), and it must be on disk
	// before the disk fills.
	testenv.Eventually(t, 10*time.Second, "the first delivery stored", func() bool {
		n, err := store.Count(t.Context())
		return err == nil && n == 1
	})
	testenv.FillDisk(t, filepath.Join(disk, "filler"))
	// The first is forwarded and waits for the disk; the second is not
	// forwarded while the store cannot write.
	post(1)
	post(2)
	testenv.Eventually(t, 10*time.Second, "one forwarded and the store failing", func() bool {
		n, _ := reached()
		return n == 2 && bus.Store().Failing()
	})
	link.cut()
	connected()
	// The relay sends both again, and the agent's free workers hold the
	// copies beside the first delivery's record, still waiting.
	testenv.Eventually(t, 10*time.Second, "the copies received", func() bool { return bus.Store().Waiting == 3 })

	if err := os.Remove(filepath.Join(disk, "filler")); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 20*time.Second, "the store writing again", func() bool { return !bus.Store().Failing() })
	testenv.Eventually(t, 20*time.Second, "every delivery stored", func() bool {
		n, err := store.Count(t.Context())
		return err == nil && n == 3
	})
	// The copies are acked from the store: nothing is left in flight.
	testenv.Eventually(t, 20*time.Second, "every copy acked", func() bool { return agent.outstanding.Load() == 0 })
	if n, dups := reached(); n != 3 || dups != 0 {
		t.Fatalf("the app received %d deliveries, %d of them more than once", n, dups)
	}
}
