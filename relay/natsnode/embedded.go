package natsnode

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"math"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
)

// startEmbedded starts this node's own NATS server, clustered with the
// other nodes' when opts names a cluster listener, and connects to it in
// process.
func startEmbedded(ctx context.Context, opts Options) (*Node, error) {
	sopts, err := serverOptions(opts)
	if err != nil {
		return nil, err
	}
	if opts.ClusterListen != "" {
		if err := checkClustered(opts); err != nil {
			return nil, err
		}
		if err := claimStore(opts.DataDir, sopts.StoreDir, sopts.ServerName); err != nil {
			return nil, err
		}
	}
	logs := &serverLog{log: opts.logger(), now: time.Now}
	s, err := server.NewServer(sopts)
	if err != nil {
		return nil, fmt.Errorf("embedded NATS server: %w", err)
	}
	s.SetLogger(logs, false, false)
	s.Start()
	if !s.ReadyForConnections(10 * time.Second) {
		s.Shutdown()
		return nil, fmt.Errorf("embedded NATS server did not start: %s", logs.firstError("it did not listen within 10s"))
	}
	nc, closed, err := connect(s.ClientURL(), opts.logger(), []nats.Option{
		nats.Name("hooktap relay " + sopts.ServerName),
		nats.InProcessServer(s),
	})
	if err != nil {
		s.Shutdown()
		return nil, fmt.Errorf("connect to the embedded NATS server: %w", err)
	}
	n := &Node{Name: sopts.ServerName, Conn: nc, server: s, closed: closed}
	size := clusterSize(opts)
	// A node that has been a member needs a majority to start again (one
	// node of three down for good must not stop a second one's restart);
	// a new one waits for every node its routes name, so that a new
	// cluster's streams find their replicas.
	member := filepath.Join(sopts.StoreDir, "joined")
	need := size - 1
	if _, err := os.Stat(member); err == nil {
		need = size / 2
	}
	if err := waitFormed(ctx, s, opts, size, need); err != nil {
		n.Close()
		return nil, err
	}
	if opts.Replicas == 0 {
		opts.Replicas = min(3, size)
	}
	if err := n.ready(ctx, opts); err != nil {
		n.Close()
		return nil, err
	}
	if opts.ClusterListen != "" {
		if err := os.WriteFile(member, nil, 0o600); err != nil {
			n.Close()
			return nil, err
		}
	}
	logs.joined.Store(true)
	return n, nil
}

// checkClustered refuses, in hooktap's words rather than the server's,
// what would stop a clustered node only later: routes to no other node (a
// JetStream cluster of one never elects a leader: a minute's wait, then an
// error), and a cluster listen address already taken.
func checkClustered(opts Options) error {
	if clusterSize(opts) == 1 {
		return fmt.Errorf("--cluster-routes names no node but this one (--cluster-listen %s): list every node's cluster URL, the same list on every node", opts.ClusterListen)
	}
	l, err := net.Listen("tcp", opts.ClusterListen)
	if err != nil {
		var op *net.OpError
		if errors.As(err, &op) {
			err = op.Err
		}
		return fmt.Errorf("--cluster-listen %s: %w", opts.ClusterListen, err)
	}
	return l.Close()
}

// claimStore records beside a clustered node's store the name it runs
// under, and refuses another: JetStream knows a peer by its name, so a
// store started as a new one leaves the old name a member of every stream
// that never answers again, and one more node down loses the majority
// (every POST 503).
func claimStore(dataDir, storeDir, name string) error {
	file := filepath.Join(storeDir, "node-name")
	b, err := os.ReadFile(file)
	if err == nil {
		if was := strings.TrimSpace(string(b)); was != name {
			return fmt.Errorf("--data %s is node %q's; start it with --node-name %s (or give node %q an empty --data)", dataDir, was, was, name)
		}
		return nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	if err := os.MkdirAll(storeDir, 0o700); err != nil {
		return err
	}
	return os.WriteFile(file, []byte(name+"\n"), 0o600)
}

// serverOptions turns opts into the embedded server's options.
func serverOptions(opts Options) (*server.Options, error) {
	if opts.DataDir == "" {
		return nil, errors.New("the embedded NATS server needs a data directory")
	}
	host, port := "127.0.0.1", server.RANDOM_PORT
	if opts.ClientListen != "" {
		h, p, err := splitHostPort(opts.ClientListen)
		if err != nil {
			return nil, fmt.Errorf("client listen address %q: %v", opts.ClientListen, err)
		}
		host, port = h, p
	}
	payload := max(int64(server.MAX_PAYLOAD_SIZE), opts.MaxPayload+64<<10) // room for headers
	if payload > math.MaxInt32 {
		return nil, fmt.Errorf("a message of %d bytes is more than NATS carries", opts.MaxPayload)
	}
	so := &server.Options{
		ServerName: nodeName(opts.NodeName),
		Host:       host,
		Port:       port,
		JetStream:  true,
		StoreDir:   filepath.Join(opts.DataDir, "nats"),
		MaxPayload: int32(payload),
		MaxPending: max(int64(server.MAX_PENDING_SIZE), 4*payload),
		SyncAlways: opts.SyncAlways,
		// A route to a node that is down fails every second; the server
		// reports every 10th failure, serverLog one a minute as a warning.
		ReconnectErrorReports: 10,
		NoSigs:                true,
	}
	if opts.ClusterListen == "" {
		if len(opts.Routes) > 0 {
			return nil, errors.New("routes to other nodes need a cluster listen address")
		}
		return so, nil
	}
	if opts.ClusterName == "" {
		return nil, errors.New("a cluster listen address needs a cluster name")
	}
	h, p, err := splitHostPort(opts.ClusterListen)
	if err != nil {
		return nil, fmt.Errorf("cluster listen address %q: %v", opts.ClusterListen, err)
	}
	so.Cluster = server.ClusterOpts{Name: opts.ClusterName, Host: h, Port: p}
	for _, r := range opts.Routes {
		u, err := parseRoute(r)
		if err != nil {
			return nil, err
		}
		so.Routes = append(so.Routes, u)
	}
	return so, nil
}

func splitHostPort(hp string) (string, int, error) {
	h, ps, err := net.SplitHostPort(hp)
	if err != nil {
		return "", 0, err
	}
	p, err := strconv.Atoi(ps)
	if err != nil || p < 0 || p > 65535 {
		return "", 0, fmt.Errorf("bad port %q", ps)
	}
	if h == "" {
		h = "0.0.0.0"
	}
	return h, p, nil
}

// parseRoute checks one --cluster-routes entry: nats://host:port.
func parseRoute(r string) (*url.URL, error) {
	u, err := url.Parse(r)
	if err != nil || u.Scheme != "nats" || u.Hostname() == "" || u.Port() == "" {
		return nil, fmt.Errorf("cluster route %q: want nats://host:port", r)
	}
	return u, nil
}

// clusterSize is the number of nodes opts configures: this one and its
// routes, not counting a route to itself (every node may share one list).
func clusterSize(opts Options) int {
	if opts.ClusterListen == "" {
		return 1
	}
	n := 1
	for _, r := range opts.Routes {
		if u, err := parseRoute(r); err == nil && !isSelf(u, opts.ClusterListen) {
			n++
		}
	}
	return n
}

// isSelf reports whether route points at this node's cluster listener.
func isSelf(route *url.URL, listen string) bool {
	lh, lp, err := net.SplitHostPort(listen)
	if err != nil || route.Port() != lp {
		return false
	}
	rh := route.Hostname()
	if rh == lh {
		return true
	}
	ips, err := net.LookupIP(rh)
	if err != nil {
		return false
	}
	if lip := net.ParseIP(lh); lip != nil && !lip.IsUnspecified() {
		return slices.ContainsFunc(ips, lip.Equal)
	}
	// Listening on every address: a route to any of this host's is ours.
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return false
	}
	for _, a := range addrs {
		if in, ok := a.(*net.IPNet); ok && slices.ContainsFunc(ips, in.IP.Equal) {
			return true
		}
	}
	return false
}

// waitFormed waits until this node's server has routes to need of the
// other size-1 nodes' and JetStream's meta group has a leader this server
// follows, or says which nodes are missing when ReadyTimeout passes.
func waitFormed(ctx context.Context, s *server.Server, opts Options, size, need int) error {
	if size == 1 && opts.ClusterListen == "" {
		return nil
	}
	wait := opts.readyTimeout()
	parent := ctx
	ctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		peers := routePeers(s)
		// Current implies a meta leader in a cluster (raft.Current).
		if len(peers) >= need && s.JetStreamIsCurrent() {
			return nil
		}
		select {
		case <-tick.C:
		case <-ctx.Done():
			if parent.Err() != nil {
				return fmt.Errorf("stopped while waiting for cluster %s to form", opts.ClusterName)
			}
			if missing := need - len(peers); missing > 0 {
				return fmt.Errorf("waiting for %d more node(s) of cluster %s after %s (routes: %s)",
					missing, opts.ClusterName, wait, strings.Join(opts.Routes, ","))
			}
			return fmt.Errorf("cluster %s has %d nodes but no JetStream leader after %s", opts.ClusterName, size, wait)
		}
	}
}

// routePeers lists the names of the servers this one has routes to.
func routePeers(s *server.Server) []string {
	rz, err := s.Routez(nil)
	if err != nil {
		return nil
	}
	var names []string
	for _, r := range rz.Routes {
		if !slices.Contains(names, r.RemoteName) {
			names = append(names, r.RemoteName)
		}
	}
	return names
}

// serverLog passes the embedded server's warnings and errors to the
// relay's log and keeps the first error for Start's message. Until the
// node has joined its cluster they go at debug level: refused routes and
// "no meta leader yet" are what forming a cluster looks like.
type serverLog struct {
	log    *slog.Logger
	joined atomic.Bool
	now    func() time.Time // time.Now; tests move it
	mu     sync.Mutex
	first  string
	routes map[string]time.Time // when a failing route was last warned of
}

// routeWarnEvery bounds the warnings about one unreachable route: while a
// node is down, the server retries its routes (several per peer) every
// second and reports the failures as errors.
const routeWarnEvery = time.Minute

// The server's report of a failed route dial starts so, and names the
// address it dialled: "Error trying to connect to route (attempt 1): dial
// tcp 10.0.0.3:6222: connect: connection refused".
const routeFailPrefix = "Error trying to connect to route"

var dialAddr = regexp.MustCompile(`dial tcp (\S+): `)

func (l *serverLog) Noticef(format string, v ...any) {
	l.log.Debug("nats: " + fmt.Sprintf(format, v...))
}
func (l *serverLog) Debugf(string, ...any)          {}
func (l *serverLog) Tracef(string, ...any)          {}
func (l *serverLog) Warnf(format string, v ...any)  { l.warn(fmt.Sprintf(format, v...)) }
func (l *serverLog) Errorf(format string, v ...any) { l.error(fmt.Sprintf(format, v...)) }
func (l *serverLog) Fatalf(format string, v ...any) { l.error(fmt.Sprintf(format, v...)) }

// warn logs the server's warnings at info level: most are what a
// cluster does in passing (snapshots at shutdown, leader changes), and
// the relay's default level (warn) is for what an operator must act on.
func (l *serverLog) warn(msg string) {
	// The payload limit is raised on purpose, to fit --max-body.
	if !l.joined.Load() || strings.HasPrefix(msg, "Maximum payloads over") {
		l.log.Debug("nats: " + msg)
		return
	}
	l.log.Info("nats: " + msg)
}

func (l *serverLog) error(msg string) {
	l.mu.Lock()
	if l.first == "" {
		l.first = msg
	}
	l.mu.Unlock()
	if !l.joined.Load() {
		l.log.Debug("nats: " + msg)
		return
	}
	if strings.HasPrefix(msg, routeFailPrefix) {
		l.routeFailed(msg)
		return
	}
	l.log.Error("nats: " + msg)
}

// routeFailed says once a minute per route that a node cannot be reached
// (a warning: the cluster goes on while it has a majority); the rest of
// the retries' failures go at debug level.
func (l *serverLog) routeFailed(msg string) {
	route := "" // unknown: one warning a minute for all such
	if m := dialAddr.FindStringSubmatch(msg); m != nil {
		route = m[1]
	}
	now := l.now()
	l.mu.Lock()
	last, seen := l.routes[route]
	warn := !seen || now.Sub(last) >= routeWarnEvery
	if warn {
		if l.routes == nil {
			l.routes = map[string]time.Time{}
		}
		l.routes[route] = now
	}
	l.mu.Unlock()
	if !warn {
		l.log.Debug("nats: " + msg)
		return
	}
	detail := msg
	if _, d, ok := strings.Cut(msg, "): "); ok {
		detail = d
	}
	l.log.Warn("nats: cannot reach another node's cluster route; retrying (said at most once a minute)", "route", route, "err", detail)
}

func (l *serverLog) firstError(otherwise string) string {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.first != "" {
		return l.first
	}
	return otherwise
}
