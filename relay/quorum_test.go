package relay

import (
	"bytes"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The node cannot store once its writes have failed for writesLostAfter
// in a row, not before (a write that succeeds in between starts the count
// again); it says so once per change, and can store again after one write.
func TestStoringNeedsFailuresInARow(t *testing.T) {
	var log bytes.Buffer
	st := newStoring(slog.New(slog.NewTextHandler(&log, nil)))
	down := errors.New("nats: timeout")
	now := time.Now()
	st.wrote(now.Add(-writesLostAfter+time.Second), down)
	st.wrote(now, nil)
	st.wrote(now.Add(-2*time.Second), down)
	if !st.ok() {
		t.Fatal("cannot store after failures that a success split in two")
	}
	st.wrote(now, nil)
	before := st.cannot()
	st.wrote(now.Add(-writesLostAfter), down)
	st.wrote(now, down)
	if st.ok() {
		t.Fatalf("can store after writes failed for %v", writesLostAfter)
	}
	select {
	case <-before: // a sender that waited hears it
	default:
		t.Fatal("the channel of a sender that waits was not closed")
	}
	st.wrote(now, nil)
	if !st.ok() {
		t.Fatal("cannot store after a write succeeded")
	}
	if n := strings.Count(log.String(), "cannot reach a majority"); n != 1 {
		t.Errorf("loss logged %d times:\n%s", n, log.String())
	}
	if n := strings.Count(log.String(), "reaches a majority of its cluster again"); n != 1 {
		t.Errorf("return logged %d times:\n%s", n, log.String())
	}
}

// Two of three servers die: the node left sees its heartbeats fail, and
// then /healthz and every sender get 503 at once, and nothing of theirs is
// stored, also once the servers are back (the stream then holds only the
// deliveries answered 2xx).
func TestClusterQuorumLostRefusesAtOnce(t *testing.T) {
	every, lost := heartbeatEvery, writesLostAfter
	heartbeatEvery, writesLostAfter = 200*time.Millisecond, time.Second
	t.Cleanup(func() { heartbeatEvery, writesLostAfter = every, lost })
	c := startCluster(t, Config{ResponseTimeout: 2 * time.Second})
	app := newTestApp(t)
	runAgent(t, c.node(0).ts.URL, "q", filepath.Join(t.TempDir(), "agent.db"), app)
	c.waitAgents("q", 1)
	first := `{"n":"before"}`
	if status, answer, _ := postBody(t, c.node(0).ts.URL+"/h/q", first); status != http.StatusCreated {
		t.Fatalf("before the loss: %d %s", status, answer)
	}
	for i := 1; i < 3; i++ {
		c.stopNode(i)
		c.nats.Kill(i)
	}
	health := func() (int, string) {
		resp, err := http.Get(c.node(0).ts.URL + "/healthz")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	waitFor(t, "/healthz 503", func() bool { status, _ := health(); return status == http.StatusServiceUnavailable })
	if _, body := health(); !strings.Contains(body, "cannot reach a majority") {
		t.Errorf("/healthz says %q", body)
	}
	for i := range 3 {
		start := time.Now()
		status, answer, h := postBody(t, c.node(0).ts.URL+"/h/q", `{"n":"refused"}`)
		if took := time.Since(start); status != http.StatusServiceUnavailable || took > time.Second ||
			!strings.Contains(answer, "cannot reach a majority") || h.Get("Retry-After") == "" {
			t.Fatalf("POST %d without a majority: %d %q after %v", i, status, answer, took)
		}
	}
	c.nats.Restart(1)
	c.nats.Restart(2)
	waitFor(t, "/healthz 200", func() bool { status, _ := health(); return status == http.StatusOK })
	// The deliveries stream may elect its leader after the heartbeats'
	// bucket: until then a sender gets 503 after --response-timeout.
	last := `{"n":"after"}`
	waitFor(t, "a POST answered 201 after the servers came back", func() bool {
		status, _, _ := postBody(t, c.node(0).ts.URL+"/h/q", last)
		return status == http.StatusCreated
	})
	ds, _, err := c.node(0).srv.store.After(t.Context(), "q", 0, 100, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range ds {
		if string(d.Body) == `{"n":"refused"}` {
			t.Fatalf("the stream holds a delivery refused with 503 (seq %d)", d.Seq)
		}
	}
	if app.times(`{"n":"refused"}`) != 0 || app.times(first) != 1 || app.times(last) == 0 {
		t.Fatalf("app got %v", app.got)
	}
}
