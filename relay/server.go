// Package relay is hooktap's public side: it accepts webhook requests at
// /h/{channel}, keeps each one durably, pushes it over WebSocket to the
// agents connected to the channel and answers the sender with the first
// agent's response.
package relay

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"errors"
	"fmt"
	"html"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"

	"github.com/hooktap/hooktap/relay/natsnode"
	"github.com/hooktap/hooktap/relay/page"
	"github.com/hooktap/hooktap/relay/wire"
)

// Config configures a Server. Zero values take the defaults.
type Config struct {
	DataDir           string        // where the buffer database lives
	PublicURL         string        // base URL senders use; default: derived from each request
	ResponseTimeout   time.Duration // how long a sender waits for the app's answer; default 10s
	OfflineStatus     int           // answer when no agent takes a delivery: 202 (default) or 503
	MaxBody           int64         // largest accepted body; default 5 MiB
	BufferTTL         time.Duration // how long deliveries are kept; default 24h
	BufferMax         int           // deliveries kept per channel; 0 means no count limit
	Window            int           // deliveries in flight per agent; default 256
	ReadHeaderTimeout time.Duration // slow senders are cut off after this; default 10s
	AdminToken        string        // team mode when set: channels must be created, agents need tokens
	MetricsToken      string        // team mode: a token that reads /metrics (the admin token does too)
	Rate              float64       // deliveries per second per channel; 0: no limit (see ParseRate)
	RateBurst         int           // deliveries a channel may take at once; default ceil(Rate)
	TLSCert, TLSKey   string        // PEM files: serve HTTPS and WSS
	Version           string
	Logger            *slog.Logger
	// Mount serves other handlers beside the relay's, by pattern (hooktap
	// dev: the provider emulator at /v1/).
	Mount map[string]http.Handler
	// Cluster, when set, makes this relay one node of a cluster joined by
	// NATS JetStream: deliveries, cursors, claims and presence live there
	// (cluster.go). nil: a single relay on its SQLite buffer.
	Cluster *natsnode.Node

	// idleWait, for tests: how long an agent may send nothing before its
	// connection is closed, and so how often agents are pinged (9/10 of
	// it); 0: wire.PongWait.
	idleWait time.Duration
}

// Defaults.
const (
	DefaultResponseTimeout = 10 * time.Second
	DefaultMaxBody         = 5 << 20
	DefaultBufferTTL       = 24 * time.Hour
	DefaultWindow          = 256
	// MaxWindow is the most deliveries an agent holds at once; a relay
	// that sends more is cut off by the agent as broken.
	MaxWindow = 1024
)

// AgentPath is where agents open their WebSocket.
const AgentPath = "/agent"

// Server is a relay. Create it with New, serve Handler, and Close it.
type Server struct {
	cfg     Config
	log     *slog.Logger
	buf     *Buffer // the SQLite database: the buffer, and the channel registry
	store   Storage // the buffer: buf, or the cluster's stream (log.go)
	signals Signals // nil on a single relay (log.go)
	// writes says whether this cluster node can store (quorum.go); nil on
	// a single relay.
	writes *storing

	mu       sync.Mutex
	channels map[string]*channel
	pending  map[string]chan *wire.Ack

	holdUntil atomic.Int64 // unix ns: until then sessions send only what is committed (commit.go)
	storeErrs throttle     // the log line of a delivery not stored: a full disk fails them all

	dirtyMu  sync.Mutex
	dirty    map[*session]struct{} // sessions whose cursor moved
	flushing atomic.Bool           // a flush of cursors and claims is scheduled

	upgrader websocket.Upgrader
	ctx      context.Context // sessions live under it
	cancel   context.CancelFunc
	// sessions counts running sessions for Close; startMu orders a new
	// one's Add before Close's Wait (ctx is cancelled under it).
	startMu  sync.Mutex
	sessions sync.WaitGroup

	team    *team       // nil in open mode: channel registry and tokens (team.go)
	limits  *rateLimits // nil: no rate limit (ratelimit.go)
	metrics *metrics    // what /metrics shows (metrics.go)
	feed    *pageFeed   // what the channel pages show (channelpage.go)
	tls     *tls.Config // nil: plain HTTP (tls.go)
	bodies  *budgets    // room for request bodies in memory (budget.go)
	// stats answers for this node's counters and gathers the cluster's
	// (clusterstats.go); nil on a single relay.
	stats *clusterStats
	// frameLimit is the largest WebSocket frame either side sends: one
	// delivery of MaxBody, or one ack with an answer as large.
	frameLimit int64
}

// New opens the buffer under cfg.DataDir and returns a ready Server.
func New(ctx context.Context, cfg Config) (*Server, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	tlsConf, err := loadTLS(cfg)
	if err != nil {
		return nil, err
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	buf, err := OpenBuffer(ctx, filepath.Join(cfg.DataDir, "relay.db"))
	if err != nil {
		return nil, fmt.Errorf("open relay buffer: %w", err)
	}
	tm, err := newTeam(ctx, cfg, buf)
	if err != nil {
		buf.Close()
		return nil, err
	}

	sctx, cancel := context.WithCancel(context.Background())
	s := &Server{
		cfg:        cfg,
		log:        log,
		buf:        buf,
		channels:   map[string]*channel{},
		pending:    map[string]chan *wire.Ack{},
		team:       tm,
		limits:     newRateLimits(cfg.Rate, cfg.RateBurst),
		metrics:    newMetrics(),
		tls:        tlsConf,
		bodies:     newBudgets(cfg.MaxBody),
		frameLimit: wire.FrameLimit(cfg.MaxBody),
		dirty:      map[*session]struct{}{},
		ctx:        sctx,
		cancel:     cancel,
		upgrader: websocket.Upgrader{
			ReadBufferSize:  256,
			WriteBufferSize: 1024,
			WriteBufferPool: &sync.Pool{},
			// Agents are programs, not browsers; there is no cookie to
			// protect, so any origin may connect.
			CheckOrigin: func(*http.Request) bool { return true },
		},
	}
	s.store = buf
	// Before joining: the other nodes' channel-page items come at once.
	s.feed = newPageFeed(s)
	if cfg.Cluster != nil {
		if err := s.joinCluster(ctx, cfg.Cluster); err != nil {
			cancel()
			buf.Close()
			return nil, err
		}
	}
	s.watchCluster()
	go s.pruneLoop()
	go s.pingLoop()
	return s, nil
}

// ValidOfflineStatus reports whether code may answer a delivery no agent
// takes: 202 (kept) or 503 (the sender retries).
func ValidOfflineStatus(code int) bool {
	return code == http.StatusAccepted || code == http.StatusServiceUnavailable
}

// withDefaults fills in cfg's zero values and checks the rest.
func (cfg Config) withDefaults() (Config, error) {
	if cfg.ResponseTimeout <= 0 {
		cfg.ResponseTimeout = DefaultResponseTimeout
	}
	if cfg.OfflineStatus == 0 {
		cfg.OfflineStatus = http.StatusAccepted
	}
	if !ValidOfflineStatus(cfg.OfflineStatus) {
		return cfg, fmt.Errorf("offline status must be 202 or 503, not %d", cfg.OfflineStatus)
	}
	if cfg.MaxBody <= 0 {
		cfg.MaxBody = DefaultMaxBody
	}
	if cfg.BufferTTL <= 0 {
		cfg.BufferTTL = DefaultBufferTTL
	}
	if cfg.Window <= 0 {
		cfg.Window = DefaultWindow
	}
	if cfg.Window > MaxWindow {
		return cfg, fmt.Errorf("window %d is more than an agent holds: at most %d", cfg.Window, MaxWindow)
	}
	if cfg.ReadHeaderTimeout <= 0 {
		cfg.ReadHeaderTimeout = 10 * time.Second
	}
	if cfg.DataDir == "" {
		return cfg, errors.New("relay needs a data directory")
	}
	if cfg.Rate < 0 {
		return cfg, errors.New("rate must not be negative")
	}
	cfg.PublicURL = strings.TrimRight(cfg.PublicURL, "/")
	return cfg, nil
}

// Handler routes the relay's endpoints.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", s.root)
	mux.HandleFunc("GET /healthz", s.healthz)
	mux.HandleFunc("GET "+AgentPath, s.serveAgent)
	mux.HandleFunc("/h/{channel}", s.gate)
	mux.HandleFunc("/h/{channel}/{rest...}", s.gate)
	mux.HandleFunc("GET /metrics", s.metricsReader(s.serveMetrics))
	mux.HandleFunc("/api/channels", s.admin(s.apiChannels))
	mux.HandleFunc("/api/channels/{name}", s.admin(s.apiChannel))
	mux.HandleFunc("POST /api/channels/{name}/rotate-token", s.admin(s.apiRotate))
	mux.HandleFunc("POST /api/channels/{name}/rotate-url", s.admin(s.apiRotateURL))
	mux.Handle("GET /c/", s.channelPage(page.Handler(s.feed)))
	for pattern, h := range s.cfg.Mount {
		mux.Handle(pattern, h)
	}
	return mux
}

// NewHTTPServer wraps Handler in an http.Server with hooktap's timeouts and
// limits against slow or hostile clients.
func (s *Server) NewHTTPServer() *http.Server {
	hs := &http.Server{
		Handler:           s.Handler(),
		ReadHeaderTimeout: s.cfg.ReadHeaderTimeout,
		ReadTimeout:       60 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelDebug),
		Protocols:         new(http.Protocols),
	}
	// HTTP/1.1, and HTTP/2 without TLS for senders that start with its
	// preface (h2c). With TLS, ALPN offers HTTP/1.1 only (see loadTLS):
	// agents need it for the WebSocket upgrade.
	hs.Protocols.SetHTTP1(true)
	hs.Protocols.SetUnencryptedHTTP2(true)
	hs.RegisterOnShutdown(s.feed.shutdown) // live channel pages end
	return hs
}

// Serve serves on ln until ctx ends, then shuts down gracefully: requests in
// flight get their answers (bounded by the response timeout), then agents
// get close frames.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	hs := s.NewHTTPServer()
	ln = s.listener(ln) // TLS when configured
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	select {
	case err := <-errc:
		s.Close()
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), s.cfg.ResponseTimeout+2*time.Second)
	defer cancel()
	err := hs.Shutdown(sctx)
	if errors.Is(err, context.DeadlineExceeded) {
		// Ingress requests end within the response timeout, so what is
		// left now does no work: connections a client opened and never
		// used, which Shutdown counts as busy for five seconds.
		s.log.Debug("closing connections left after the shutdown deadline")
		err = hs.Close()
	}
	s.Close()
	return err
}

// Close ends every agent session with a close frame and closes the buffer.
func (s *Server) Close() error {
	s.startMu.Lock()
	s.cancel()
	s.startMu.Unlock()
	s.unwatchCluster()
	s.sessions.Wait()
	s.flushCursors()
	<-s.store.FlushClaims(0) // what no agent acked is there after a restart
	if s.signals != nil {
		s.signals.Close()
		s.store.Close()
	}
	return s.buf.Close()
}

// Buffer exposes the relay's buffer (for tests and tools).
func (s *Server) Buffer() *Buffer { return s.buf }

var channelName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$`)

// ValidChannel reports whether name can be used as a channel.
func ValidChannel(name string) bool { return channelName.MatchString(name) }

// baseURL is the URL senders and agents reach this relay at.
func (s *Server) baseURL(r *http.Request) string {
	if s.cfg.PublicURL != "" {
		return s.cfg.PublicURL
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

func (s *Server) root(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	base := s.baseURL(r)
	fmt.Fprintf(w, `<!doctype html><meta charset="utf-8"><title>hooktap relay</title>
<style>body{font:15px/1.5 system-ui,sans-serif;max-width:44rem;margin:3rem auto;padding:0 1rem;color:#222}code{background:#f3f3f3;padding:.1em .3em;border-radius:3px}</style>
<h1>hooktap relay</h1>
<p>This is a <a href="https://github.com/hooktap/hooktap">hooktap</a> relay %s. It accepts webhook requests and hands them to the hooktap agents connected to each channel.</p>
<ul>
<li>Point your provider's webhook URL at <code>%s/h/&lt;channel&gt;</code> (anything after it is passed on as a path suffix).</li>
<li>Receive them on your machine: <code>hooktap listen --relay %s --channel &lt;channel&gt; --forward-to http://localhost:3000/webhooks</code></li>
</ul>
<p>Health: <a href="/healthz">/healthz</a></p>
`, html.EscapeString(s.cfg.Version), html.EscapeString(base), html.EscapeString(base))
}

// startSession counts a session for Close and calls start, which returns
// at once and calls end when the session is over; unless the relay is
// closing: then it reports false and start is not called.
func (s *Server) startSession(start func(end func())) bool {
	s.startMu.Lock()
	if s.ctx.Err() != nil {
		s.startMu.Unlock()
		return false
	}
	s.sessions.Add(1)
	s.startMu.Unlock()
	start(s.sessions.Done)
	return true
}

// newID returns a random delivery id: 16 lowercase base32 characters (80
// bits).
func newID() string { return strings.ToLower(rand.Text()[:16]) }

func (s *Server) pruneLoop() {
	t := time.NewTicker(time.Minute)
	defer t.Stop()
	for {
		select {
		case <-s.ctx.Done():
			return
		case <-t.C:
			n, err := s.store.Prune(s.ctx, time.Now().Add(-s.cfg.BufferTTL), s.cfg.BufferMax, s.connected)
			if err != nil && s.ctx.Err() == nil {
				s.log.Warn("prune buffer", "err", err)
			} else if n > 0 {
				s.log.Debug("pruned buffer", "deliveries", n)
			}
		}
	}
}
