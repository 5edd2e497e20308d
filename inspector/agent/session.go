package agent

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/gorilla/websocket"

	"github.com/hooktap/hooktap/inspector/live"
	"github.com/hooktap/hooktap/relay/wire"
)

// session runs one connection: dial, hello, then deliveries until the
// connection ends, the relay refuses the agent, or ctx ends (then the
// deliveries in flight finish and are acked first).
func (a *Agent) session(ctx context.Context, work chan<- job) error {
	conn, err := a.dial(ctx)
	if err != nil {
		return err
	}
	l := &link{
		agent: a, conn: conn, work: work, stop: ctx,
		// The connection and the handlers run on a context that shutdown
		// does not cancel: they finish what is in flight (drain).
		keep: context.WithoutCancel(ctx),
		acks: &acker{conn: conn, limit: wire.MaxFrameSize, sent: &a.acked},
	}
	stopDrain := l.drainOnShutdown()
	defer stopDrain()
	go l.heartbeat()
	err = conn.Run(l.keep, l.read)
	if l.refused != nil {
		return l.refused
	}
	if err := l.stalled.Load(); err != nil {
		return *err
	}
	var ce *websocket.CloseError
	if errors.As(err, &ce) && ce.Text != "" {
		err = fmt.Errorf("relay closed the connection: %s", ce.Text)
	}
	return err
}

// dial opens a connection to the relay and says hello.
func (a *Agent) dial(ctx context.Context) (*wire.Conn, error) {
	agentID, agentKey, err := a.cfg.Store.AgentID(ctx)
	if err != nil {
		return nil, fmt.Errorf("agent id: %w", err)
	}
	conn, closeConn, err := a.connect(ctx)
	if err != nil {
		return nil, err
	}
	hello := &wire.Hello{
		Channel:  a.cfg.Channel,
		Token:    a.cfg.Token,
		AgentID:  agentID,
		AgentKey: agentKey,
		Instance: a.instance,
		Events:   a.cfg.Events,
		// Filtered at the relay like Events.
		ObjectTypes: a.cfg.ObjectTypes,
		EntityIDs:   a.cfg.EntityIDs,
		Agent:       "hooktap " + a.cfg.Version,
		Binary:      true,
	}
	if err := conn.Send(ctx, hello); err != nil {
		closeConn()
		return nil, err
	}
	return conn, nil
}

// connect opens the connection to the relay: a WebSocket, unless Config.Dial
// says otherwise. closeConn closes it before Run.
func (a *Agent) connect(ctx context.Context) (conn *wire.Conn, closeConn func(), err error) {
	if a.cfg.Dial != nil {
		conn, err := a.cfg.Dial(ctx)
		if err != nil {
			return nil, nil, err
		}
		return conn, conn.Abort, nil
	}
	u, _ := agentURL(a.cfg.Relay)
	dialer := websocket.Dialer{
		HandshakeTimeout: 10 * time.Second,
		ReadBufferSize:   16 << 10,
		WriteBufferSize:  16 << 10,
	}
	ws, resp, err := dialer.DialContext(ctx, u, nil)
	if err != nil {
		if resp != nil {
			return nil, nil, handshakeError(a.cfg.Relay, u, resp)
		}
		return nil, nil, fmt.Errorf("connect to relay: %w", err)
	}
	return wire.NewConn(ws), func() { ws.Close() }, nil
}

// handshakeError explains an HTTP answer to the agent's WebSocket request.
// A relay always upgrades the connection (and refuses, if it must, inside
// it); a proxy in front of a relay that is restarting answers 502-504 or
// 429, which is worth retrying. Anything else comes from a server that is
// not a relay: an app, a web server, a wrong URL.
func handshakeError(relay, endpoint string, resp *http.Response) error {
	status := fmt.Sprintf("%d %s", resp.StatusCode, http.StatusText(resp.StatusCode))
	switch resp.StatusCode {
	case http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout, http.StatusTooManyRequests:
		return fmt.Errorf("connect to relay: %s answered %s", endpoint, status)
	}
	// A 500 or 501 too: the relay never answers them here.
	return fmt.Errorf("%s is %w: it answered %s to %s, where a relay takes agents (check --relay)", relay, ErrNotRelay, status, endpoint)
}

// errStalled ends a connection whose relay stopped answering heartbeats.
var errStalled = errors.New("the relay stopped answering")

// reason says in a few words why a session ended, for status lines.
func reason(err error) string {
	var dnsErr *net.DNSError
	var ne net.Error
	switch {
	case err == nil:
		return "connection closed"
	case errors.Is(err, ErrRefused), errors.Is(err, ErrNotRelay), errors.Is(err, errStalled):
		return err.Error()
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused"
	case errors.As(err, &dnsErr):
		return "unknown host " + dnsErr.Name
	case errors.As(err, &ne) && ne.Timeout():
		return "timed out"
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, syscall.ECONNRESET),
		websocket.IsUnexpectedCloseError(err):
		return "connection lost"
	}
	return strings.TrimPrefix(err.Error(), "connect to relay: ")
}

// heartbeat pings the relay every interval and waits at most an interval
// for its pong, until the connection ends. Each pong is a heartbeat, with
// its round trip, for the UIs. A relay that stops answering (frozen, or
// gone behind a connection that looks open) is noticed at most two
// intervals after its last heartbeat: the connection is closed, and the
// agent reconnects.
func (l *link) heartbeat() {
	every := l.agent.cfg.Heartbeat
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-t.C:
		case <-l.conn.Done():
			return
		}
		sent := time.Now()
		if !l.conn.Alive(every) {
			select {
			case <-l.conn.Done():
				return // ended for another reason
			default:
			}
			err := fmt.Errorf("%w: no heartbeat for %s", errStalled, time.Since(l.agent.lastBeat()).Round(time.Second))
			l.stalled.Store(&err)
			l.agent.log.Warn("relay connection stalled; reconnecting", "err", err)
			l.conn.Abort() // a frozen relay would not answer a close frame
			return
		}
		l.agent.beat(time.Since(sent))
		t.Reset(every - time.Since(sent))
	}
}

// link is one session's state: what its reader hands to the workers.
type link struct {
	agent    *Agent
	conn     *wire.Conn
	work     chan<- job
	stop     context.Context // ends on shutdown
	keep     context.Context // the connection's and handlers' context
	acks     *acker
	inflight tracker
	welcomed bool
	// answerWithin: how long the relay's senders wait for the app's
	// answer (Welcome.AnswerWithin), less answerMargin; 0: not said.
	answerWithin time.Duration
	refused      error                 // a refusal that retrying cannot fix
	stalled      atomic.Pointer[error] // the heartbeat's verdict, when the relay stopped answering
}

// answerMargin is what an agent keeps of a relay's --response-timeout for
// the delivery's trip here and its ack's trip back: with less, an app that
// times out here would get its sender the relay's 202 instead of a 504.
const answerMargin = 250 * time.Millisecond

// drainOnShutdown makes the connection, once stop ends, take no new
// deliveries, let those in flight finish and be acked (within
// drainTimeout), then close with a close frame. The returned function ends
// it, for a session that ended on its own.
func (l *link) drainOnShutdown() func() {
	done := make(chan struct{})
	go func() {
		select {
		case <-l.stop.Done():
		case <-done:
			return
		}
		select {
		case <-l.inflight.stop():
		case <-time.After(drainTimeout):
		case <-done:
		}
		l.conn.Close(websocket.CloseGoingAway, "agent shutting down")
	}()
	return func() { close(done) }
}

// read handles one message from the relay.
func (l *link) read(m wire.Message) error {
	a := l.agent
	switch m := m.(type) {
	case *wire.Welcome:
		if m.Binary {
			l.conn.UseBinary() // before the next read: deliveries may be binary
		}
		if m.MaxFrame > 0 {
			l.conn.SetReadLimit(m.MaxFrame) // a delivery as large as the relay takes
			l.acks.setLimit(m.MaxFrame)
		}
		if m.AnswerWithin > 0 {
			l.answerWithin = max(time.Duration(m.AnswerWithin)*time.Millisecond-answerMargin, answerMargin)
		}
		l.welcomed = true
		a.welcomes.Add(1)
		a.setStatus(live.RelayStatus{State: live.StateConnected, URL: m.URL})
		a.log.Info("connected to relay", "url", m.URL)
	case *wire.Delivery:
		if !l.welcomed {
			return errors.New("relay sent a delivery before welcome")
		}
		// The relay keeps at most its window in flight; a relay that sends
		// more than maxOutstanding is broken or hostile.
		if a.outstanding.Add(1) > maxOutstanding {
			a.outstanding.Add(-1)
			return errors.New("relay sent more deliveries than its window allows")
		}
		if !l.inflight.start() {
			a.outstanding.Add(-1)
			return nil // shutting down: the relay sends it again later
		}
		j := job{ctx: l.keep, stop: l.stop, d: m, acks: l.acks, inflight: &l.inflight, received: time.Now()}
		if l.answerWithin > 0 {
			j.due = j.received.Add(l.answerWithin)
		}
		l.work <- j // never blocks: outstanding <= its capacity
	case *wire.Error:
		switch m.Code {
		case wire.CodeUnauthorized, wire.CodeUnknownChannel, wire.CodeBadRequest, wire.CodeVersion, wire.CodeAgentTaken:
			l.refused = fmt.Errorf("%w: %s", ErrRefused, m.Message)
		default:
			l.refused = fmt.Errorf("relay: %s", m.Message)
		}
		return l.refused
	case *wire.Unknown:
		a.log.Debug("relay sent a message of unknown type", "type", m.Type)
	}
	return nil
}

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
