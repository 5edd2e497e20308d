// Package agent is hooktap's local agent: it keeps a session with a relay
// open (reconnecting with backoff), forwards each delivery to the app,
// records it and the app's answer in the store before it acks the relay,
// and tells the UIs (package live) what happens.
package agent

import (
	"context"
	crand "crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hooktap/hooktap/inspector/forward"
	"github.com/hooktap/hooktap/inspector/live"
	"github.com/hooktap/hooktap/inspector/store"
	"github.com/hooktap/hooktap/relay/wire"
)

// Config configures an Agent.
type Config struct {
	Relay       string // relay base URL, http(s)://host[:port]
	Channel     string
	Token       string
	Events      []string // action globs to subscribe to; empty: all
	ObjectTypes []string // object types to subscribe to; empty: all
	EntityIDs   []string // entities to subscribe to; empty: all
	Store       *store.Store
	Forwarder   *forward.Forwarder // where deliveries go unless a route takes them
	Routes      []forward.Route    // first match wins
	Secret      string             // verifies signatures; "" marks signed deliveries no-secret
	// SecretFor, when set, names the secret for one delivery ("" for
	// Secret): hooktap dev looks up the emulator's subscription there.
	SecretFor   func(*store.Delivery) string
	Bus         *live.Bus        // optional: live events for UIs (lossy)
	Report      func(live.Event) // optional: called in order for every event (lossless)
	Logger      *slog.Logger
	Concurrency int           // deliveries forwarded at once; default 64
	Heartbeat   time.Duration // how often the relay is pinged; default DefaultHeartbeat
	Version     string
	// Dial, when set, opens the connection to the relay instead of a
	// WebSocket to Relay: hooktap dev attaches its agent to the relay in
	// the same process with one end of a wire.Pipe. Relay still names it.
	Dial func(ctx context.Context) (*wire.Conn, error)
	// AppCheckEvery is how often the agent dials the forward target to
	// see whether the app listens; default appCheckEvery.
	AppCheckEvery time.Duration
}

// ErrRefused wraps a relay's refusal that retrying cannot fix (a wrong
// token, an unknown channel).
var ErrRefused = errors.New("refused by relay")

// ErrNotRelay wraps the answer of a server that is not a hooktap relay (an
// app, a web server) to the agent's connection: retrying cannot fix it.
var ErrNotRelay = errors.New("not a hooktap relay")

// Agent keeps a session with a relay open and handles its deliveries.
type Agent struct {
	cfg Config
	log *slog.Logger
	// outstanding counts deliveries received and not yet handled.
	outstanding atomic.Int64
	// acked counts acks written to relays: the agent's progress.
	acked atomic.Int64
	// welcomes counts the sessions a relay welcomed.
	welcomes atomic.Int64
	// instance names this run of the agent to relays, which refuse a
	// second run of one store (a copy) while the first is connected.
	instance string
	conn     live.RelayStatus // guarded by mu
	mu       sync.Mutex

	// While the store cannot write, handlers retry their records and no
	// new delivery is forwarded (see retryRecord and mayForward).
	healthMu sync.Mutex
	failing  int              // handlers retrying a record
	writable chan struct{}    // closed while the store writes
	health   live.StoreHealth // as last published

	appMu   sync.Mutex
	app     live.AppHealth // as last published
	answers answers        // the app's answers of the last minute

	reclaimMu sync.Mutex
	reclaimed time.Time // when the store last reclaimed space for a failed record

	// handling holds the ids of the deliveries being handled, with a
	// channel for those waiting for one of them, made by the first waiter.
	handlingMu sync.Mutex
	handling   map[string]chan struct{}
}

// New checks cfg.
func New(cfg Config) (*Agent, error) {
	if _, err := agentURL(cfg.Relay); err != nil {
		return nil, err
	}
	if cfg.Store == nil || cfg.Forwarder == nil {
		return nil, errors.New("agent needs a store and a forward target")
	}
	if cfg.Channel == "" {
		return nil, errors.New("agent needs a channel")
	}
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = 64
	}
	if cfg.Heartbeat <= 0 {
		cfg.Heartbeat = DefaultHeartbeat
	}
	if cfg.Heartbeat > MaxHeartbeat {
		return nil, fmt.Errorf("heartbeat every %s: at most %s (the relay's read deadline)", cfg.Heartbeat, MaxHeartbeat)
	}
	if cfg.AppCheckEvery <= 0 {
		cfg.AppCheckEvery = appCheckEvery
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	a := &Agent{cfg: cfg, log: log, instance: crand.Text(), writable: make(chan struct{}), handling: map[string]chan struct{}{}}
	close(a.writable)
	return a, nil
}

// agentURL turns a relay base URL into its WebSocket endpoint.
func agentURL(relay string) (string, error) {
	u, err := url.Parse(strings.TrimRight(relay, "/"))
	if err != nil || u.Host == "" {
		return "", fmt.Errorf("relay URL %q must look like http://host:port", relay)
	}
	switch u.Scheme {
	case "http", "ws":
		u.Scheme = "ws"
	case "https", "wss":
		u.Scheme = "wss"
	default:
		return "", fmt.Errorf("relay URL %q must be http(s):// or ws(s)://", relay)
	}
	u.Path = strings.TrimSuffix(u.Path, "/") + "/agent"
	return u.String(), nil
}

// Heartbeat bounds: a stall is noticed within two heartbeats.
const (
	DefaultHeartbeat = 10 * time.Second
	MaxHeartbeat     = wire.PingPeriod // the relay's reads time out without pings
)

// beat notes a heartbeat from the relay and its round trip.
func (a *Agent) beat(rtt time.Duration) {
	a.mu.Lock()
	c := a.conn
	c.Heartbeat, c.RTT = time.Now(), rtt
	a.conn = c
	a.mu.Unlock()
	a.emit(live.Event{Kind: live.EventRelay, Relay: c})
}

// lastBeat is when the relay last answered a heartbeat.
func (a *Agent) lastBeat() time.Time {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.conn.Heartbeat
}

func (a *Agent) setStatus(c live.RelayStatus) {
	c.Relay = a.cfg.Relay
	c.Target = a.cfg.Forwarder.Target()
	c.Routes = nil
	for _, r := range a.cfg.Routes {
		c.Routes = append(c.Routes, r.Events+"="+r.Target())
	}
	a.mu.Lock()
	if c.URL == "" && c.State != live.StateOffline {
		c.URL = a.conn.URL
	}
	if c.State == live.StateConnected {
		c.Heartbeat = time.Now() // the welcome is one
	} else {
		c.Heartbeat = a.conn.Heartbeat // the last, for "no heartbeat for ..."
	}
	a.conn = c
	a.mu.Unlock()
	a.emit(live.Event{Kind: live.EventRelay, Relay: c})
}

// emit publishes e on the bus, then reports it: once a line says that
// the agent is connected, the web inspector's status (hooktap status) says
// so too.
func (a *Agent) emit(e live.Event) {
	a.cfg.Bus.Publish(e)
	if a.cfg.Report != nil {
		a.cfg.Report(e)
	}
}

// maxOutstanding bounds the deliveries an agent holds at once (received,
// not yet done with): twice the most a relay may be set to keep in flight
// (relay.MaxWindow, 1024). A delivery's slot is freed after its ack is
// written, and the relay may send the next one as soon as it reads the ack:
// the agent can hold a few more than the window for a moment.
const maxOutstanding = 2048

// Backoff bounds for reconnecting.
const (
	backoffMin = 250 * time.Millisecond
	backoffMax = 30 * time.Second
)

// InFlight counts the deliveries received and not yet handled: those being
// forwarded to the app and recorded.
func (a *Agent) InFlight() int { return int(a.outstanding.Load()) }

// Run connects and reconnects, with exponential backoff and jitter, until
// ctx ends (then it returns nil after in-flight deliveries finish) or the
// relay refuses the agent for good (an error wrapping ErrRefused), or the
// URL turns out not to be a relay's (ErrNotRelay).
func (a *Agent) Run(ctx context.Context) error {
	// Long-lived workers rather than a goroutine per delivery: their
	// stacks have grown to what forwarding and recording need once.
	work := make(chan job, maxOutstanding)
	var workers sync.WaitGroup
	for range a.cfg.Concurrency {
		workers.Add(1)
		go func() {
			defer workers.Done()
			for j := range work {
				a.handle(j)
				a.outstanding.Add(-1)
				j.inflight.done()
			}
		}()
	}
	defer func() {
		close(work) // what was received is still handled
		workers.Wait()
	}()
	// The app is checked first, so that "nothing is listening" is said
	// at start, and then all along.
	a.checkApp(ctx)
	appCtx, stopApp := context.WithCancel(ctx)
	appDone := make(chan struct{})
	go func() { defer close(appDone); a.watchApp(appCtx) }()
	defer func() { stopApp(); <-appDone }()

	backoff := backoffMin
	a.setStatus(live.RelayStatus{State: live.StateConnecting})
	stalls := stallWatch{log: a.log}
	stalled := false
	for {
		started, acked, welcomes := time.Now(), a.acked.Load(), a.welcomes.Load()
		err := a.session(ctx, work)
		// A relay that stopped answering stays "stalled" (red) until a
		// session is welcomed again.
		if a.welcomes.Load() > welcomes {
			stalled = false
		}
		if errors.Is(err, errStalled) {
			stalled = true
		}
		if ctx.Err() != nil {
			a.setStatus(live.RelayStatus{State: live.StateOffline})
			return nil
		}
		if errors.Is(err, ErrRefused) || errors.Is(err, ErrNotRelay) {
			a.setStatus(live.RelayStatus{State: live.StateRefused, Err: err.Error(), Reason: reason(err)})
			return err
		}
		msg := ""
		if err != nil {
			msg = err.Error()
		}
		// A session that acked something, or lasted, was progress; one
		// that ends at once, again and again, is a loop to break with
		// longer waits, and to tell the user about.
		if a.acked.Load() > acked || time.Since(started) >= stallSession {
			backoff = backoffMin
			stalls.progress()
		} else {
			stalls.failed(msg)
		}
		// Full jitter keeps a team's agents from reconnecting in lockstep
		// after a relay restart.
		wait := backoff/2 + rand.N(backoff/2+1)
		a.log.Debug("relay connection lost", "err", msg, "retry_in", wait)
		a.setStatus(live.RelayStatus{State: live.StateReconnecting, RetryAt: time.Now().Add(wait), Err: msg, Reason: reason(err),
			Stalled: stalled})
		select {
		case <-ctx.Done():
			a.setStatus(live.RelayStatus{State: live.StateOffline})
			return nil
		case <-time.After(wait):
		}
		backoff = min(backoff*2, backoffMax)
	}
}

// A session shorter than stallSession that acked nothing made no progress;
// after stallReport of them in a row the agent logs an error (again at
// most every stallRepeat while it goes on).
const (
	stallSession = 30 * time.Second
	stallReport  = 3
	stallRepeat  = time.Minute
)

// stallWatch notices a reconnect loop that gets nothing through, and says
// so at the default log level: reconnects themselves are Debug noise.
type stallWatch struct {
	log    *slog.Logger
	n      int // sessions in a row without progress
	logged time.Time
}

func (w *stallWatch) failed(err string) {
	w.n++
	if w.n < stallReport || time.Since(w.logged) < stallRepeat {
		return
	}
	w.logged = time.Now()
	w.log.Error("the relay connection keeps failing and no delivery gets through; retrying", "attempts", w.n, "err", err)
}

func (w *stallWatch) progress() {
	if !w.logged.IsZero() {
		w.log.Warn("the relay connection works again", "after_attempts", w.n)
	}
	w.n, w.logged = 0, time.Time{}
}
