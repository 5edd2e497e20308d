package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"net/url"
	"strconv"

	"github.com/hooktap/hooktap/relay"
	"github.com/hooktap/hooktap/relay/natsnode"
	"github.com/hooktap/hooktap/relay/wire"
)

// clusterFlags are the relay's flags for running as one node of several,
// joined by NATS JetStream: an external NATS (--nats), or a NATS server
// embedded in every node (--cluster-*).
type clusterFlags struct {
	nats, creds          string
	name, listen, routes string
	node                 string
	syncAlways           bool
}

func (f *clusterFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.nats, "nats", "", "cluster mode on an existing NATS: its `URLs`, comma-separated (nats://host:4222,...)")
	fs.StringVar(&f.creds, "nats-creds", "", "NATS credentials `file` for --nats")
	fs.StringVar(&f.name, "cluster-name", "", "cluster mode with a NATS server embedded in each node: the cluster's `name`, the same on every node")
	fs.StringVar(&f.listen, "cluster-listen", "", "`HOST:PORT` this node takes the other nodes' routes on (with --cluster-name)")
	fs.StringVar(&f.routes, "cluster-routes", "", "the nodes' cluster `URLs`, comma-separated (nats://a:6222,nats://b:6222); this node's own may be among them")
	fs.StringVar(&f.node, "node-name", "", "this node's `name` in the cluster (default: the host name)")
	fs.BoolVar(&f.syncAlways, "cluster-sync-always", false, "embedded cluster: fsync every write before answering 2xx (survives power loss; slower)")
}

// on reports whether the relay runs as a cluster node.
func (f *clusterFlags) on() bool { return f.nats != "" || f.name != "" }

// check refuses combinations that mean nothing, in one line each.
func (f *clusterFlags) check() error {
	embedded := f.name != "" || f.listen != "" || f.routes != ""
	switch {
	case f.nats != "" && embedded:
		return usagef("--nats uses an existing NATS; --cluster-name, --cluster-listen and --cluster-routes embed one: choose one")
	case f.creds != "" && f.nats == "":
		return usagef("--nats-creds goes with --nats")
	case f.syncAlways && f.nats != "":
		return usagef("--cluster-sync-always is for the embedded cluster; with --nats set sync_interval: always in the NATS servers' jetstream block")
	case f.syncAlways && !f.on():
		return usagef("--cluster-sync-always needs --cluster-name (the single-process relay keeps its buffer in SQLite)")
	case f.node != "" && !f.on():
		return usagef("--node-name needs cluster mode: --nats or --cluster-name")
	case (f.listen != "" || f.routes != "") && f.name == "":
		return usagef("--cluster-listen and --cluster-routes need --cluster-name (the same on every node)")
	case f.name != "" && f.listen == "" && f.routes != "":
		return usagef("--cluster-routes needs --cluster-listen (where the other nodes reach this one)")
	}
	if f.listen != "" {
		if err := checkAddr("cluster-listen", f.listen); err != nil {
			return err
		}
		if f.routes == "" {
			// NATS would refuse it in its own words (a JetStream
			// cluster needs routes), and a route list is no guess.
			return usagef("--cluster-listen needs --cluster-routes: every node's cluster URL, the same list on every node (nats://a:6222,nats://b:6222)")
		}
	}
	for _, r := range splitList(f.routes) {
		if u, err := url.Parse(r); err != nil || u.Scheme != "nats" || u.Hostname() == "" || !validPort(u.Port()) {
			return usagef("bad --cluster-routes entry %q: want nats://HOST:PORT", r)
		}
	}
	for _, u := range splitList(f.nats) {
		if p, err := url.Parse(u); err != nil || p.Host == "" {
			return usagef("bad --nats URL: want nats://HOST:PORT[,...]")
		}
	}
	return nil
}

// start joins the cluster: the embedded server's store goes under the
// relay's data directory, and NATS messages fit one delivery of --max-body.
func (f *clusterFlags) start(ctx context.Context, cfg relay.Config, log *slog.Logger) (*natsnode.Node, error) {
	node, err := natsnode.Start(ctx, natsnode.Options{
		URLs: f.nats, Creds: f.creds,
		ClusterName: f.name, ClusterListen: f.listen, Routes: splitList(f.routes),
		NodeName: f.node, DataDir: cfg.DataDir, SyncAlways: f.syncAlways,
		MaxPayload: wire.FrameLimit(max(cfg.MaxBody, relay.DefaultMaxBody)),
		Logger:     log,
	})
	if err != nil {
		return nil, fmt.Errorf("cluster: %w", err)
	}
	return node, nil
}

// validPort reports whether p is a port a node can listen on: 0 and
// 65536 and over parse as URL ports, and a route to one would make the
// node wait a minute for a cluster that cannot form.
func validPort(p string) bool {
	n, err := strconv.Atoi(p)
	return err == nil && n >= 1 && n <= 65535
}
