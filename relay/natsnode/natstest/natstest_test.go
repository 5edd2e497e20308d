package natstest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// A replicas-3 stream keeps every acknowledged message across the loss of
// its leader, takes new ones meanwhile, and the restarted server catches up.
func TestClusterSurvivesLeaderKillAndRestart(t *testing.T) {
	c := Cluster(t, 3)
	n := c.Node(t, 0)
	if n.Replicas != 3 {
		t.Fatalf("Replicas = %d, want 3", n.Replicas)
	}
	ctx, cancel := context.WithTimeout(context.Background(), ReadyTimeout)
	defer cancel()
	_, err := n.JS.CreateStream(ctx, jetstream.StreamConfig{
		Name: "HOOKTAP_NATSTEST", Subjects: []string{"hooktap.natstest.>"}, Replicas: 3,
	})
	if err != nil {
		t.Fatal(err)
	}
	big := bytes.Repeat([]byte("x"), 5<<20) // above NATS's 1 MiB default
	publish := func(from, to int) {
		for i := from; i < to; i++ {
			body := []byte(fmt.Sprint(i))
			if i == from {
				body = big
			}
			if _, err := n.JS.Publish(ctx, "hooktap.natstest.a", body); err != nil {
				t.Fatalf("publish %d: %v", i, err)
			}
		}
	}
	publish(0, 20)

	leader := c.StreamLeader(t, "HOOKTAP_NATSTEST")
	c.Kill(leader)
	other := c.StreamLeader(t, "HOOKTAP_NATSTEST")
	if other == leader {
		t.Fatalf("leader %d still leads after Kill", leader)
	}
	publish(20, 40) // the node reconnects if it was on the killed server
	c.Restart(leader)

	// Read everything back through the restarted server itself.
	r := c.Node(t, leader)
	s, err := r.JS.Stream(ctx, "HOOKTAP_NATSTEST")
	if err != nil {
		t.Fatal(err)
	}
	for seq := uint64(1); seq <= 40; seq++ {
		m, err := s.GetMsg(ctx, seq)
		if err != nil {
			t.Fatalf("seq %d: %v", seq, err)
		}
		want := fmt.Sprint(seq - 1)
		if seq == 1 || seq == 21 {
			if len(m.Data) != len(big) {
				t.Fatalf("seq %d: %d bytes, want %d", seq, len(m.Data), len(big))
			}
			continue
		}
		if string(m.Data) != want {
			t.Fatalf("seq %d = %q, want %q", seq, m.Data, want)
		}
	}
	// The restarted server is a current replica again: every peer current.
	deadline := time.Now().Add(ReadyTimeout)
	for {
		info, err := s.Info(ctx)
		if err == nil && info.Cluster != nil && len(info.Cluster.Replicas) == 2 && allCurrent(info.Cluster.Replicas) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("stream replicas not current after restart: %+v %v", info, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func allCurrent(ps []*jetstream.PeerInfo) bool {
	for _, p := range ps {
		if !p.Current {
			return false
		}
	}
	return true
}

// One server: JetStream without a cluster, replicas 1.
func TestSingleServer(t *testing.T) {
	c := Cluster(t, 1)
	n := c.Node(t, 0)
	if n.Replicas != 1 {
		t.Fatalf("Replicas = %d, want 1", n.Replicas)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := n.JS.AccountInfo(ctx); err != nil {
		t.Fatal(err)
	}
}

// A test that outlives the watchdog's limit ends the test binary with
// status 2, every goroutine's stack on stderr and, last, the test's name.
// The test runs itself as a child that hangs in a cleanup (as a relay's
// Close would): the watchdog covers cleanups too.
func TestWatchdogNamesHungTest(t *testing.T) {
	if os.Getenv("NATSTEST_HANG") == "1" {
		Watchdog(t, 300*time.Millisecond)
		t.Cleanup(func() { select {} })
		return
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestWatchdogNamesHungTest$", "-test.timeout=30s")
	cmd.Env = append(os.Environ(), "NATSTEST_HANG=1")
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 2 {
		t.Fatalf("child: %v, want exit status 2; output:\n%s", err, out)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	want := "TestWatchdogNamesHungTest hung: still running after 300ms (goroutines above)"
	if last := lines[len(lines)-1]; last != want {
		t.Fatalf("last line %q, want %q", last, want)
	}
	if !bytes.Contains(out, []byte("goroutine ")) || !bytes.Contains(out, []byte("TestWatchdogNamesHungTest.func")) {
		t.Fatalf("no goroutine stacks (the hung cleanup's) before it:\n%s", out)
	}
}
