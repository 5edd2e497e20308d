package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"time"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/hooktap/hooktap/relay"
	"github.com/hooktap/hooktap/relay/wire"
)

// With `hooktap relay --nats` the relay holds no state of its own: the
// presence and cursor entries live in an existing NATS cluster. Its memory
// per idle agent is measured against three NATS servers that this binary
// runs as child processes (natsMode), so that the relay's RSS and the
// servers' RSS are each a process of their own.

// natsMode is the argument that makes this binary one NATS server with
// JetStream, clustered with its peers on loopback.
const natsMode = "serve-nats"

// natsReady is the line a NATS child prints once it takes connections.
const natsReady = "NATS ready"

// serveNATS runs one NATS server until ctx ends. Its messages fit one
// delivery of the relay's default --max-body, as the embedded server's do.
func serveNATS(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet(natsMode, flag.ContinueOnError)
	name := fs.String("name", "", "server name")
	store := fs.String("store", "", "JetStream store directory")
	listen := fs.String("listen", "", "client HOST:PORT")
	cluster := fs.String("cluster", "", "cluster HOST:PORT")
	routes := fs.String("routes", "", "the peers' cluster URLs, comma-separated")
	if err := fs.Parse(args); err != nil {
		return err
	}
	host, port, err := splitHostPort(*listen)
	if err != nil {
		return fmt.Errorf("-listen: %w", err)
	}
	chost, cport, err := splitHostPort(*cluster)
	if err != nil {
		return fmt.Errorf("-cluster: %w", err)
	}
	payload := wire.FrameLimit(relay.DefaultMaxBody) + 64<<10 // room for headers, as relay/natsnode
	o := &server.Options{
		ServerName: *name,
		Host:       host,
		Port:       port,
		JetStream:  true,
		StoreDir:   *store,
		MaxPayload: int32(payload),
		MaxPending: 4 * payload,
		Cluster:    server.ClusterOpts{Name: "hooktap-bench-nats", Host: chost, Port: cport},
		NoLog:      true,
		NoSigs:     true, // ctx ends on SIGINT (the parent's stop)
	}
	for _, r := range strings.Split(*routes, ",") {
		u, err := url.Parse(r)
		if err != nil || u.Host == "" {
			return fmt.Errorf("-routes: bad URL %q", r)
		}
		o.Routes = append(o.Routes, u)
	}
	s, err := server.NewServer(o)
	if err != nil {
		return err
	}
	s.Start()
	defer func() { s.Shutdown(); s.WaitForShutdown() }()
	if !s.ReadyForConnections(10 * time.Second) {
		return errors.New("NATS server not accepting connections after 10s")
	}
	fmt.Fprintln(stdout, natsReady)
	<-ctx.Done()
	return nil
}

func splitHostPort(hp string) (string, int, error) {
	u, err := url.Parse("nats://" + hp)
	if err != nil || u.Hostname() == "" || u.Port() == "" {
		return "", 0, fmt.Errorf("want HOST:PORT, got %q", hp)
	}
	var p int
	if _, err := fmt.Sscan(u.Port(), &p); err != nil {
		return "", 0, err
	}
	return u.Hostname(), p, nil
}

// startNATS starts three clustered NATS servers as children of self and
// returns them with their client URLs. On error none is left running.
func startNATS(ctx context.Context, self, dir string) ([]*child, []string, error) {
	var clients, clusters []string
	for range 6 {
		addr, err := freePort()
		if err != nil {
			return nil, nil, err
		}
		if len(clients) < 3 {
			clients = append(clients, addr)
		} else {
			clusters = append(clusters, addr)
		}
	}
	var servers []*child
	var urls []string
	for i := range 3 {
		var routes []string
		for j, c := range clusters {
			if j != i {
				routes = append(routes, "nats://"+c)
			}
		}
		name := fmt.Sprintf("nats%d", i)
		c, _, err := startChild(ctx, natsReady, self, natsMode, "-name", name, "-store", filepath.Join(dir, name),
			"-listen", clients[i], "-cluster", clusters[i], "-routes", strings.Join(routes, ","))
		if err != nil {
			stopChildren(servers)
			return nil, nil, fmt.Errorf("NATS server %d: %w", i, err)
		}
		servers = append(servers, c)
		urls = append(urls, "nats://"+clients[i])
	}
	return servers, urls, nil
}

func stopChildren(cs []*child) {
	for _, c := range cs {
		c.stop()
	}
}

// externalIdleMemory measures a `hooktap relay --nats` process's resident
// memory per idle agent, and what the three NATS servers add per agent
// (the sum of their growth), the way clusterIdleMemory measures an
// embedded node. Every child it starts has stopped when it returns.
func externalIdleMemory(ctx context.Context, bin, self, dir string, client *http.Client) (relayPer, natsPer float64, err error) {
	servers, urls, err := startNATS(ctx, self, dir)
	if err != nil {
		return 0, 0, err
	}
	defer stopChildren(servers)
	n, err := startRelayNode(ctx, bin, "external", "--addr", "127.0.0.1:0", "--data", filepath.Join(dir, "external"),
		"--nats", strings.Join(urls, ","), "--node-name", "external")
	if err != nil {
		return 0, 0, err
	}
	defer n.stop()
	return clusterIdleMemory(ctx, n, client, servers...)
}
