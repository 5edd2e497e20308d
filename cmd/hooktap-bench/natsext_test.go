package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/hooktap/hooktap/relay"
	"github.com/hooktap/hooktap/relay/wire"
)

// The three servers of serve-nats form one JetStream cluster (a stream with
// 3 replicas is placed), take a message of the relay's largest delivery,
// and end when their context does.
func TestServeNATSFormsCluster(t *testing.T) {
	var clients, clusters []string
	for range 6 {
		addr, err := freePort()
		if err != nil {
			t.Fatal(err)
		}
		if len(clients) < 3 {
			clients = append(clients, addr)
		} else {
			clusters = append(clusters, addr)
		}
	}
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 3)
	for i := range 3 {
		var routes []string
		for j, c := range clusters {
			if j != i {
				routes = append(routes, "nats://"+c)
			}
		}
		pr, pw := io.Pipe()
		name := fmt.Sprintf("n%d", i)
		go func() {
			done <- serveNATS(ctx, []string{"-name", name, "-store", filepath.Join(dir, name), "-listen", clients[i],
				"-cluster", clusters[i], "-routes", strings.Join(routes, ",")}, pw)
			pw.Close()
		}()
		line, err := bufio.NewReader(pr).ReadString('\n')
		if err != nil || strings.TrimSpace(line) != natsReady {
			t.Fatalf("server %d said %q, %v", i, line, err)
		}
		go io.Copy(io.Discard, pr)
	}

	nc, err := nats.Connect("nats://" + clients[0])
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	var s jetstream.Stream
	for deadline := time.Now().Add(30 * time.Second); ; {
		cctx, ccancel := context.WithTimeout(ctx, 2*time.Second)
		s, err = js.CreateStream(cctx, jetstream.StreamConfig{Name: "T", Subjects: []string{"t"}, Replicas: 3})
		ccancel()
		if err == nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond) // polling for a meta leader: no signal to wait on
	}
	if err != nil {
		t.Fatalf("R3 stream: %v", err)
	}
	if got := s.CachedInfo().Config.Replicas; got != 3 {
		t.Fatalf("replicas %d", got)
	}
	big := make([]byte, wire.FrameLimit(relay.DefaultMaxBody)) // a delivery of the default --max-body; NATS's default is 1 MiB
	pctx, pcancel := context.WithTimeout(ctx, 10*time.Second)
	defer pcancel()
	if _, err := js.Publish(pctx, "t", big); err != nil {
		t.Fatalf("publish %d bytes: %v", len(big), err)
	}

	cancel()
	for range 3 {
		select {
		case err := <-done:
			if err != nil {
				t.Error(err)
			}
		case <-time.After(15 * time.Second):
			t.Fatal("a server did not end with its context")
		}
	}
}
