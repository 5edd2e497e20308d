package agent

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"

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
	Store       *store.Store
	Forwarder   *forward.Forwarder
	Secret      string           // verifies signatures; "" marks signed deliveries no-secret
	Bus         *live.Bus        // optional: live events for UIs (lossy)
	Report      func(live.Event) // optional: called in order for every event (lossless)
	Logger      *slog.Logger
	Concurrency int // deliveries forwarded at once; default 64
	Version     string
}

// ErrRefused wraps a relay's refusal that retrying cannot fix (a wrong
// token, an unknown channel).
var ErrRefused = errors.New("refused by relay")

// Agent keeps a session with a relay open and handles its deliveries.
type Agent struct {
	cfg Config
	log *slog.Logger
	// outstanding counts deliveries received and not yet handled.
	outstanding atomic.Int64
	// acked counts acks written to relays: the agent's progress.
	acked atomic.Int64
	conn  live.RelayStatus // guarded by mu
	mu    sync.Mutex

	// While the store cannot write, handlers retry their records and no
	// new delivery is forwarded (see retryRecord and mayForward).
	healthMu sync.Mutex
	failing  int              // handlers retrying a record
	writable chan struct{}    // closed while the store writes
	health   live.StoreHealth // as last published

	reclaimMu sync.Mutex
	reclaimed time.Time // when the store last reclaimed space for a failed record

	// handling holds the ids of the deliveries being handled, with a
	// channel for those waiting for one of them, made by the first waiter.
	handlingMu sync.Mutex
	handling   map[string]chan struct{}
}

// job is a delivery for a worker, with the session it came on.
type job struct {
	ctx      context.Context // the session's, which shutdown does not cancel
	stop     context.Context // ends when the agent is told to stop
	d        *wire.Delivery
	acks     *acker
	inflight *tracker
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
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	a := &Agent{cfg: cfg, log: log, writable: make(chan struct{}), handling: map[string]chan struct{}{}}
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

func (a *Agent) setStatus(c live.RelayStatus) {
	c.Relay = a.cfg.Relay
	c.Target = a.cfg.Forwarder.Target()
	a.mu.Lock()
	if c.URL == "" && c.State != live.StateOffline {
		c.URL = a.conn.URL
	}
	a.conn = c
	a.mu.Unlock()
	a.emit(live.Event{Kind: live.EventRelay, Relay: c})
}

func (a *Agent) emit(e live.Event) {
	if a.cfg.Report != nil {
		a.cfg.Report(e)
	}
	a.cfg.Bus.Publish(e)
}

// recordDelay is how long the agent waits for the app's answer before it
// records a delivery on its own.
const recordDelay = 20 * time.Millisecond

// drainTimeout bounds how long shutdown waits for deliveries in flight: the
// app's timeout and a little more.
const drainTimeout = forward.DefaultTimeout + 2*time.Second

// tracker counts handlers in flight and tells when the last one is done
// after stop.
type tracker struct {
	mu      sync.Mutex
	n       int
	stopped bool
	idle    chan struct{}
}

// start registers a handler; false once stopped.
func (t *tracker) start() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.stopped {
		return false
	}
	t.n++
	return true
}

func (t *tracker) done() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.n--
	if t.n == 0 && t.idle != nil {
		close(t.idle)
		t.idle = nil
	}
}

// stop refuses new handlers and returns a channel closed when none is left.
func (t *tracker) stop() <-chan struct{} {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.stopped = true
	ch := make(chan struct{})
	if t.n == 0 {
		close(ch)
	} else {
		t.idle = ch
	}
	return ch
}

// maxOutstanding bounds the deliveries an agent holds at once (received, not
// yet acked): four times the relay's default window.
const maxOutstanding = 1024

// Backoff bounds for reconnecting.
const (
	backoffMin = 250 * time.Millisecond
	backoffMax = 30 * time.Second
)

// Run connects and reconnects, with exponential backoff and jitter, until
// ctx ends (then it returns nil after in-flight deliveries finish) or the
// relay refuses the agent for good (an error wrapping ErrRefused).
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
	backoff := backoffMin
	a.setStatus(live.RelayStatus{State: live.StateConnecting})
	stalls := stallWatch{log: a.log}
	for {
		started, acked := time.Now(), a.acked.Load()
		err := a.session(ctx, work)
		if ctx.Err() != nil {
			a.setStatus(live.RelayStatus{State: live.StateOffline})
			return nil
		}
		if errors.Is(err, ErrRefused) {
			a.setStatus(live.RelayStatus{State: live.StateOffline, Err: err.Error()})
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
		a.setStatus(live.RelayStatus{State: live.StateReconnecting, RetryAt: time.Now().Add(wait), Err: msg})
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

// session runs one connection.
func (a *Agent) session(ctx context.Context, work chan<- job) error {
	agentID, agentKey, err := a.cfg.Store.AgentID(ctx)
	if err != nil {
		return fmt.Errorf("agent id: %w", err)
	}
	u, _ := agentURL(a.cfg.Relay)
	dialer := websocket.Dialer{
		HandshakeTimeout: 10 * time.Second,
		ReadBufferSize:   16 << 10,
		WriteBufferSize:  16 << 10,
	}
	ws, resp, err := dialer.DialContext(ctx, u, nil)
	if err != nil {
		if resp != nil && resp.StatusCode == http.StatusNotFound {
			return fmt.Errorf("%w: %s is not a hooktap relay (404 on %s)", ErrRefused, a.cfg.Relay, u)
		}
		return fmt.Errorf("connect to relay: %w", err)
	}
	conn := wire.NewConn(ws)
	hello := &wire.Hello{
		Channel:  a.cfg.Channel,
		Token:    a.cfg.Token,
		AgentID:  agentID,
		AgentKey: agentKey,
		Events:   a.cfg.Events,
		Agent:    "hooktap " + a.cfg.Version,
		Binary:   true,
	}
	if err := conn.Send(ctx, hello); err != nil {
		ws.Close()
		return err
	}
	// On shutdown, stop taking deliveries, let those in flight finish and
	// be acked, then close with a close frame. Until then the connection
	// and the handlers run on a context that shutdown does not cancel.
	keep := context.WithoutCancel(ctx)
	var inflight tracker
	stopDrain := make(chan struct{})
	defer close(stopDrain)
	go func() {
		select {
		case <-ctx.Done():
		case <-stopDrain:
			return
		}
		select {
		case <-inflight.stop():
		case <-time.After(drainTimeout):
		case <-stopDrain:
		}
		conn.Close(websocket.CloseGoingAway, "agent shutting down")
	}()

	go func() { // keep-alive: the relay's reads time out without pings
		t := time.NewTicker(wire.PingPeriod)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				conn.Ping()
			case <-conn.Done():
				return
			}
		}
	}()

	welcomed := false
	acks := &acker{conn: conn, limit: wire.MaxFrameSize, sent: &a.acked}
	var refused error
	err = conn.Run(keep, func(m wire.Message) error {
		switch m := m.(type) {
		case *wire.Welcome:
			if m.Binary {
				conn.UseBinary() // before the next read: deliveries may be binary
			}
			if m.MaxFrame > 0 {
				conn.SetReadLimit(m.MaxFrame) // a delivery as large as the relay takes
				acks.setLimit(m.MaxFrame)
			}
			welcomed = true
			a.setStatus(live.RelayStatus{State: live.StateConnected, URL: m.URL})
			a.log.Info("connected to relay", "url", m.URL)
		case *wire.Delivery:
			if !welcomed {
				return errors.New("relay sent a delivery before welcome")
			}
			// The relay keeps at most its window in flight; a relay that
			// sends more than maxOutstanding is broken or hostile.
			if a.outstanding.Add(1) > maxOutstanding {
				a.outstanding.Add(-1)
				return errors.New("relay sent more deliveries than its window allows")
			}
			if !inflight.start() {
				a.outstanding.Add(-1)
				return nil // shutting down: the relay sends it again later
			}
			work <- job{keep, ctx, m, acks, &inflight} // never blocks: outstanding <= its capacity
		case *wire.Error:
			switch m.Code {
			case wire.CodeUnauthorized, wire.CodeUnknownChannel, wire.CodeBadRequest, wire.CodeVersion, wire.CodeAgentTaken:
				refused = fmt.Errorf("%w: %s", ErrRefused, m.Message)
			default:
				refused = fmt.Errorf("relay: %s", m.Message)
			}
			return refused
		case *wire.Unknown:
			a.log.Debug("relay sent a message of unknown type", "type", m.Type)
		}
		return nil
	})
	if refused != nil {
		return refused
	}
	var ce *websocket.CloseError
	if errors.As(err, &ce) && ce.Text != "" {
		err = fmt.Errorf("relay closed the connection: %s", ce.Text)
	}
	return err
}

// handle stores one delivery, forwards it, records the attempt and acks.
// Nothing is acked before both records are committed.
func (a *Agent) handle(j job) {
	ctx, acks, w := j.ctx, j.acks, j.d
	if !a.claim(j) {
		return
	}
	defer a.release(w.ID)
	if w.Resumed {
		// The relay may have sent it before we went away: if it was
		// forwarded already, answer with what the app said then.
		if prev, err := a.cfg.Store.Get(ctx, w.ID); err == nil && prev.ID == w.ID {
			if n := len(prev.History); n > 0 {
				acks.send(ctx, w, prev.History[n-1])
				return
			}
		}
	}
	if !a.mayForward(j) {
		return // not acked: the relay sends it again
	}
	d := store.FromWire(w)
	d.Verify(a.cfg.Secret)
	a.emit(live.Event{Kind: live.EventReceived, Delivery: d.Summary()})

	// An app that answers within recordDelay gets the delivery and its
	// attempt written together, in one write; a slower one gets the
	// delivery recorded first, so that the UIs show it while it waits.
	inserted := make(chan (<-chan error), 1)
	a.cfg.Store.Expect(1)
	slow := time.AfterFunc(recordDelay, func() {
		a.cfg.Store.Expect(-1) // no longer soon
		inserted <- a.cfg.Store.Insert(d)
	})
	att := a.cfg.Forwarder.Forward(ctx, forward.RequestOf(d))
	att.DeliveryID, att.Kind = d.ID, store.KindForward
	var err error
	if slow.Stop() {
		a.cfg.Store.Expect(-1)
		err = store.Wait(ctx, a.cfg.Store.Record(d, att))
	} else {
		stored := <-inserted // submitted before the attempt: the writer keeps the order
		recorded := a.cfg.Store.AddAttempt(att)
		err = errors.Join(store.Wait(ctx, stored), store.Wait(ctx, recorded))
	}
	if err != nil && !a.retryRecord(j, d, att, err) {
		return // not acked: the relay sends it again after a reconnect
	}
	d.Status, d.Error, d.DurationMS, d.Target = att.Status, att.Error, att.DurationMS(), att.Target
	d.Attempts++
	a.emit(live.Event{Kind: live.EventAttempt, Delivery: d.Summary(), Attempt: att})
	acks.send(ctx, w, att)
}

// ackSlack is room kept in a frame beside an ack's estimated size.
const ackSlack = 64 << 10

// claim marks j's delivery as being handled, until release. A delivery
// that the relay sends again after a reconnect while its first copy is
// still being handled (its record retried, say) waits for that copy, and
// then finds it stored. It reports false if the agent stops or j's session
// ends first.
func (a *Agent) claim(j job) bool {
	id := j.d.ID
	for {
		a.handlingMu.Lock()
		busy, taken := a.handling[id]
		if !taken {
			a.handling[id] = nil
			a.handlingMu.Unlock()
			return true
		}
		if busy == nil {
			busy = make(chan struct{})
			a.handling[id] = busy
		}
		a.handlingMu.Unlock()
		select {
		case <-busy:
		case <-j.stop.Done():
			return false
		case <-j.acks.conn.Done():
			return false
		}
	}
}

// release ends claim, and wakes the copies waiting for it.
func (a *Agent) release(id string) {
	a.handlingMu.Lock()
	defer a.handlingMu.Unlock()
	if busy := a.handling[id]; busy != nil {
		close(busy)
	}
	delete(a.handling, id)
}

// mayForward reports whether j's delivery may be forwarded to the app. A
// delivery is forwarded only while the store writes: one forwarded and not
// recorded is forwarded again after a restart. So while the store cannot
// write, deliveries wait here un-acked (and the relay's window holds back
// the rest); once it writes again they go on. It reports false when j's
// session is over (the relay sends the delivery again on the next) or the
// agent stops first.
func (a *Agent) mayForward(j job) bool {
	select {
	case <-j.acks.conn.Done():
		return false // nobody to ack to
	default:
	}
	a.healthMu.Lock()
	writable := a.writable
	a.healthMu.Unlock()
	select {
	case <-writable:
		return true
	case <-j.stop.Done():
		return false
	case <-j.acks.conn.Done():
		return false
	}
}

// Backoff between tries to record a delivery that the store refused.
const (
	recordRetryMin = 100 * time.Millisecond
	recordRetryMax = 2 * time.Second
)

// retryRecord records d with its attempt att after the store failed to
// (err), until it succeeds (true) or the agent stops (false, after one last
// try). Record does both writes idempotently: it inserts d with att, or adds
// att to d when the slow path had inserted d already. Meanwhile the delivery
// stays un-acked, and no new one is forwarded.
func (a *Agent) retryRecord(j job, d *store.Delivery, att *store.Attempt, err error) bool {
	// The room may be in the store's write-ahead logs: a failure that
	// reclaiming them cures at once is not worth stopping for.
	a.reclaim(time.Now())
	if err = store.Wait(j.ctx, a.cfg.Store.Record(d, att)); err == nil {
		return true
	}
	failed := time.Now()
	a.recordFailed(j.stop, err)
	wait := recordRetryMin
	for {
		stopping := false
		select {
		case <-j.stop.Done():
			stopping = true
		case <-time.After(wait):
		}
		a.reclaim(failed)
		err = store.Wait(j.ctx, a.cfg.Store.Record(d, att))
		if err == nil {
			a.recordRetried(true)
			return true
		}
		failed = time.Now()
		if stopping {
			a.recordRetried(false)
			a.log.Warn("stopping with a delivery forwarded and not recorded: the relay sends it again", "id", d.ID, "err", err)
			return false
		}
		a.log.Debug("record delivery: retrying", "id", d.ID, "err", err, "in", wait)
		a.healthMu.Lock()
		a.health.Err = err.Error()
		a.healthMu.Unlock()
		wait = min(wait*2, recordRetryMax)
	}
}

// reclaim has the store reclaim space for a record that failed at failed,
// unless it has done so since: handlers that fail together reclaim once,
// and those that waited for it retry after it.
func (a *Agent) reclaim(failed time.Time) {
	a.reclaimMu.Lock()
	defer a.reclaimMu.Unlock()
	if a.reclaimed.After(failed) {
		return
	}
	if err := a.cfg.Store.Reclaim(context.Background()); err != nil {
		a.log.Debug("reclaim the store's write-ahead logs", "err", err)
	}
	a.reclaimed = time.Now()
}

// recordFailed counts a handler whose record failed. The first one stops
// forwarding and says so, once: in the log, and to the UIs until the store
// writes again.
func (a *Agent) recordFailed(stop context.Context, err error) {
	a.healthMu.Lock()
	defer a.healthMu.Unlock()
	a.failing++
	if a.failing > 1 {
		return
	}
	a.writable = make(chan struct{})
	a.health = live.StoreHealth{Err: err.Error(), Since: time.Now(), Waiting: int(a.outstanding.Load())}
	a.log.Error("the store cannot write: deliveries are held, un-acked, and recorded once it can; nothing new is forwarded meanwhile",
		"cause", a.health.Cause(), "db", a.cfg.Store.Path(), "err", err)
	a.emit(live.Event{Kind: live.EventStore, Store: a.health})
	go a.showWaiting(stop, a.writable)
}

// recordRetried ends a handler's retries: recorded, or given up as the agent
// stops. When the last one has recorded, forwarding resumes.
func (a *Agent) recordRetried(recorded bool) {
	a.healthMu.Lock()
	defer a.healthMu.Unlock()
	a.failing--
	if a.failing > 0 || !recorded {
		return // stopping: new deliveries stay held
	}
	close(a.writable)
	a.log.Warn("the store writes again: held deliveries are recorded and forwarding resumes",
		"after", time.Since(a.health.Since).Round(time.Second))
	a.health = live.StoreHealth{}
	a.emit(live.Event{Kind: live.EventStore, Store: a.health})
}

// showWaiting publishes, once a second while the store cannot write, how
// many deliveries wait, when that changed.
func (a *Agent) showWaiting(stop context.Context, writable <-chan struct{}) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-writable:
			return
		case <-stop.Done():
			return
		case <-t.C:
		}
		a.healthMu.Lock()
		if n := int(a.outstanding.Load()); a.writable == writable && n != a.health.Waiting {
			a.health.Waiting = n
			a.emit(live.Event{Kind: live.EventStore, Store: a.health})
		}
		a.healthMu.Unlock()
	}
}

// acker sends a session's acks. Acks that are ready while one is being
// written go out together, in one frame, written by whichever handler
// found the connection free: no goroutine of its own.
type acker struct {
	conn    *wire.Conn
	mu      sync.Mutex
	limit   int64         // the largest frame the relay reads
	sent    *atomic.Int64 // counts acks written
	pending []wire.Message
	busy    bool // a handler is writing
}

func (k *acker) setLimit(n int64) {
	k.mu.Lock()
	k.limit = n
	k.mu.Unlock()
}

func (k *acker) send(ctx context.Context, w *wire.Delivery, att *store.Attempt) {
	ack := &wire.Ack{
		ID:         w.ID,
		Seq:        w.Seq,
		Status:     att.Status,
		Header:     att.Header,
		Body:       att.Body,
		Error:      att.Error,
		Timeout:    att.Timeout,
		DurationMS: att.DurationMS(),
	}
	k.mu.Lock()
	if int64(wire.Size(ack)) > k.limit-ackSlack {
		// The relay would refuse the frame and the sender would get
		// nothing: it gets the status and headers, and the store keeps
		// the whole answer.
		ack.Body = nil
	}
	k.pending = append(k.pending, ack)
	if k.busy {
		k.mu.Unlock()
		return // the writer takes it with the next frame
	}
	k.busy = true
	var spare []wire.Message
	for len(k.pending) > 0 {
		out := k.pending
		k.pending = spare[:0]
		k.mu.Unlock()
		err := k.conn.SendAll(ctx, out...)
		if err == nil {
			k.sent.Add(int64(len(out)))
		}
		clear(out)
		spare = out
		k.mu.Lock()
		if err != nil {
			// The connection is gone: the relay sends these again after a
			// reconnect, and the store answers them.
			k.pending = nil
		}
	}
	k.busy = false
	k.mu.Unlock()
}
