package relay

import (
	"net/http"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestClusterNodeRejoinsUnderTraffic restarts a node while the other nodes
// answer POSTs: each answer is shown on every node's channel page, so the
// joining node hears page items while it is still starting (seen as a nil
// pageFeed panic in a real 3-node run, attack5).
func TestClusterNodeRejoinsUnderTraffic(t *testing.T) {
	c := startCluster(t, Config{})
	app := newTestApp(t)
	runAgent(t, c.node(0).ts.URL, "r", filepath.Join(t.TempDir(), "agent.db"), app)
	c.waitAgents("r", 1)
	var stop atomic.Bool
	var wg sync.WaitGroup
	var ok atomic.Int64
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			url := c.node(w%2).ts.URL + "/h/r"
			for !stop.Load() {
				if st, _, _ := postBody(t, url, `{"n":1}`); st < 300 {
					ok.Add(1)
				}
			}
		}()
	}
	for deadline := time.Now().Add(10 * time.Second); ok.Load() < 20; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("only %d POSTs answered 2xx before the restart", ok.Load())
		}
	}
	for range 5 { // the window is short: give it several chances
		c.nats.Kill(2)
		c.stopNode(2)
		c.nats.Restart(2)
		c.startNode(2)
	}
	stop.Store(true)
	wg.Wait()
	if status, answer, _ := postBody(t, c.node(2).ts.URL+"/h/r", `{"n":"after"}`); status != http.StatusCreated {
		t.Fatalf("POST to the restarted node: %d %s", status, answer)
	}
}
