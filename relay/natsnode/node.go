// Package natsnode connects a relay node to NATS JetStream: an existing
// NATS cluster (hooktap relay --nats), or a NATS server embedded in the
// relay process and clustered with the other nodes' (--cluster-*).
package natsnode

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Options says which NATS to use.
type Options struct {
	// External cluster (--nats, --nats-creds).
	URLs  string // comma-separated nats:// URLs
	Creds string // credentials file, or ""

	// Embedded server (--cluster-name, --cluster-listen, --cluster-routes, --node-name).
	ClusterName   string
	ClusterListen string   // host:port for routes between nodes
	Routes        []string // nats://host:port of the other nodes' cluster listeners
	ClientListen  string   // host:port the embedded server takes clients on; "" = 127.0.0.1, a free port
	DataDir       string   // the embedded server's JetStream store lives in DataDir/nats

	NodeName   string // this node's name (default: the host name)
	MaxPayload int64  // largest message: at least one delivery of --max-body
	Logger     *slog.Logger

	// SyncAlways makes the embedded server fsync every JetStream write
	// before acknowledging it (--cluster-sync-always); by default NATS
	// syncs every 2 minutes. An external NATS is configured on its own.
	SyncAlways bool

	// Replicas for streams and KV buckets; 0 = min(3, the cluster's size).
	Replicas int
	// ReadyTimeout bounds the wait for JetStream (a formed cluster); 0 = 60s.
	ReadyTimeout time.Duration
}

func (o Options) logger() *slog.Logger {
	if o.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return o.Logger
}

func (o Options) readyTimeout() time.Duration {
	if o.ReadyTimeout <= 0 {
		return 60 * time.Second
	}
	return o.ReadyTimeout
}

// Embedded reports whether opts asks for an embedded NATS server.
func (o Options) Embedded() bool { return o.URLs == "" }

// Node is a relay node's connection to JetStream.
type Node struct {
	Name     string
	Conn     *nats.Conn
	JS       jetstream.JetStream
	Replicas int // for streams and KV buckets: 3 with 3 or more servers, else the server count

	server *server.Server // the embedded server; nil with --nats
	closed chan struct{}  // closed when Conn is
	about  string         // what Describe says
}

// Describe says in one line which backend and cluster the node joined.
func (n *Node) Describe() string { return n.about }

// Start connects to the NATS cluster opts names, starting the embedded
// server first when opts asks for one.
func Start(ctx context.Context, opts Options) (*Node, error) {
	if !opts.Embedded() {
		if opts.ClusterName != "" || opts.ClusterListen != "" || len(opts.Routes) > 0 {
			return nil, errors.New("an external NATS (--nats) and an embedded cluster (--cluster-*) exclude each other")
		}
		n, err := startExternal(ctx, opts)
		if err != nil {
			return nil, err
		}
		cluster := n.Conn.ConnectedClusterName()
		n.about = fmt.Sprintf("NATS JetStream at %s, cluster %s, node %s, %d replica(s)",
			redact(splitList(opts.URLs)), or(cluster, "(none)"), n.Name, n.Replicas)
		opts.logger().Info("relay joined NATS", "backend", "nats", "servers", redact(splitList(opts.URLs)),
			"cluster", cluster, "node", n.Name, "replicas", n.Replicas)
		return n, nil
	}
	n, err := startEmbedded(ctx, opts)
	if err != nil {
		return nil, err
	}
	cluster := opts.ClusterName
	if opts.ClusterListen == "" {
		cluster = "(none: a single node)"
	}
	sync := "fsync every 2 minutes"
	if opts.SyncAlways {
		sync = "fsync always"
	}
	n.about = fmt.Sprintf("NATS JetStream embedded, cluster %s, node %s, %d replica(s), %s", cluster, n.Name, n.Replicas, sync)
	opts.logger().Info("relay joined NATS", "backend", "embedded", "cluster", cluster, "node", n.Name,
		"cluster_listen", opts.ClusterListen, "replicas", n.Replicas, "sync_always", opts.SyncAlways)
	return n, nil
}

func startExternal(ctx context.Context, opts Options) (*Node, error) {
	urls := splitList(opts.URLs)
	if len(urls) == 0 {
		return nil, errors.New("--nats names no URL")
	}
	name := nodeName(opts.NodeName)
	nopts := []nats.Option{nats.Name("hooktap relay " + name)}
	if opts.Creds != "" {
		if _, err := os.Stat(opts.Creds); err != nil {
			return nil, fmt.Errorf("--nats-creds: %w", err)
		}
		nopts = append(nopts, nats.UserCredentials(opts.Creds))
	}
	nc, closed, err := connect(strings.Join(urls, ","), opts.logger(), nopts)
	if err != nil {
		return nil, fmt.Errorf("cannot connect to %s: %v", redact(urls), err)
	}
	n := &Node{Name: name, Conn: nc, closed: closed}
	if err := n.ready(ctx, opts); err != nil {
		nc.Close()
		return nil, err
	}
	return n, nil
}

// connect dials once (a clear error when nothing answers), then reconnects
// forever with a backoff: a relay node outlives NATS restarts. What goes
// wrong on the connection goes to log (nats.go would print it to stderr).
func connect(urls string, log *slog.Logger, extra []nats.Option) (*nats.Conn, chan struct{}, error) {
	closed := make(chan struct{})
	o := append([]nats.Option{
		nats.ErrorHandler(func(_ *nats.Conn, sub *nats.Subscription, err error) {
			subject := ""
			if sub != nil {
				subject = sub.Subject
			}
			log.Warn("nats: "+err.Error(), "subject", subject)
		}),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err != nil {
				log.Warn("nats: disconnected, reconnecting", "err", err)
			}
		}),
		nats.ReconnectHandler(func(nc *nats.Conn) { log.Info("nats: reconnected", "server", redact([]string{nc.ConnectedUrl()})) }),
		nats.MaxReconnects(-1),
		nats.CustomReconnectDelay(backoff),
		nats.Timeout(5 * time.Second),
		nats.DrainTimeout(5 * time.Second),
		nats.ClosedHandler(func(*nats.Conn) { close(closed) }),
	}, extra...)
	nc, err := nats.Connect(urls, o...)
	return nc, closed, err
}

func backoff(attempts int) time.Duration {
	d := 100 * time.Millisecond << min(attempts, 5) // 100ms .. 3.2s
	return d
}

// ready waits until JetStream answers (an account info round trip) and
// sets the replica count.
func (n *Node) ready(ctx context.Context, opts Options) error {
	js, err := jetstream.New(n.Conn)
	if err != nil {
		return err
	}
	js = retryingJS{js}
	n.JS = js
	wait := opts.readyTimeout()
	ctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	n.Replicas = opts.Replicas
	if n.Replicas == 0 {
		if err := retry(ctx, func(ctx context.Context) error { _, err := js.AccountInfo(ctx); return err }); err != nil {
			return fmt.Errorf("JetStream not ready after %s: %v", wait, err)
		}
		// The servers the client has learnt of: the cluster's members.
		n.Replicas = min(3, max(1, len(n.Conn.Servers())))
	}
	// A replicated write proves the cluster places and leads assets. Its
	// answer can be lost while the servers settle their routes (NATS drops
	// what a duplicate route carried): a JetStream request made then times
	// out though it took effect, so this one is retried until one returns.
	err = retry(ctx, func(ctx context.Context) error {
		kv, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
			Bucket: NodesBucket, Replicas: n.Replicas, Storage: jetstream.FileStorage,
		})
		if err == nil {
			_, err = kv.Put(ctx, nodeKey(n.Name), []byte(time.Now().UTC().Format(time.RFC3339)))
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("JetStream not ready after %s: %v", wait, err)
	}
	return nil
}

// NodesBucket records each node's name and when it last joined.
const NodesBucket = "hooktap_nodes"

// nodeKey makes a node name a KV key (letters, digits, '-', '_', '=').
func nodeKey(name string) string {
	var b strings.Builder
	for _, r := range name {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_':
			b.WriteRune(r)
		default:
			fmt.Fprintf(&b, "=%02x", r)
		}
	}
	return b.String()
}

// retry calls f with a 3s deadline until it succeeds or ctx ends.
func retry(ctx context.Context, f func(context.Context) error) error {
	for {
		actx, cancel := context.WithTimeout(ctx, 3*time.Second)
		err := f(actx)
		cancel()
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// closeWait bounds Close's wait for a drain: DrainTimeout for the
// subscriptions, 5s for the publishes, and a margin.
const closeWait = 15 * time.Second

// Close drains the connection and shuts the embedded server down.
func (n *Node) Close() error {
	if n == nil {
		return nil
	}
	var err error
	if n.Conn != nil {
		// Drain lets in-flight publishes and handlers finish, within the
		// connection's DrainTimeout; then the handler closes n.closed.
		// nats.go runs that handler after any callback queued before it,
		// one at a time, so a stuck one (an error logged to a stderr
		// nobody reads) would hold Close forever: it waits closeWait at
		// most, and Close below ends the connection anyway.
		if err = n.Conn.Drain(); err == nil {
			t := time.NewTimer(closeWait)
			select {
			case <-n.closed:
			case <-t.C:
				err = errors.New("nats: the connection did not report closed after draining")
			}
			t.Stop()
		}
		n.Conn.Close()
	}
	if n.server != nil {
		n.server.Shutdown()
		n.server.WaitForShutdown()
	}
	return err
}

func or(s, otherwise string) string {
	if s == "" {
		return otherwise
	}
	return s
}

func nodeName(name string) string {
	if name != "" {
		return name
	}
	h, err := os.Hostname()
	if err != nil || h == "" {
		return "relay"
	}
	return h
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// redact drops any user:password from URLs before they reach an error or a log.
func redact(urls []string) string {
	out := make([]string, len(urls))
	for i, s := range urls {
		u, err := url.Parse(s)
		if err != nil {
			// Unparsable: keep only what follows a user:password@.
			out[i] = s[strings.LastIndex(s, "@")+1:]
			continue
		}
		if u.User == nil {
			out[i] = s
			continue
		}
		u.User = nil
		out[i] = u.String()
	}
	return strings.Join(out, ",")
}
