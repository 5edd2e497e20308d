package relay

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"

	"github.com/hooktap/hooktap/relay/wire"
)

// channel is the set of agent sessions listening on one channel name.
type channel struct {
	sessions map[*session]struct{} // guarded by Server.mu
}

// session is one connected agent. Deliveries reach it live through a
// bounded queue; when the queue overflows, or after a reconnect, it reads
// what it missed from the buffer, in order.
type session struct {
	srv      *Server
	conn     *wire.Conn
	channel  string
	agentID  string
	instance string // the agent's run (Hello.Instance)
	filter   Filter

	// Deliveries queued in memory, at most Window of them and
	// maxQueueBytes; the slice is released when empty, so an idle session
	// holds none.
	qmu        sync.Mutex
	queue      []item
	queueBytes int
	kick       atomic.Bool // the queue overflowed: catch up from the buffer

	room chan struct{} // a token when an ack made room in the window

	resumeTo int64 // channel head when the session opened: what it may have seen
	start    int64 // where it started in channel order: what it has sent is after it
	// adopt: the unclaimed deliveries up to adoptThrough that no other
	// session is going to take are sent before anything else (catchup.go):
	// up to its start when the session opens, up to where it is when
	// another agent of the channel leaves.
	adopt        atomic.Bool
	adoptThrough atomic.Int64

	leave func() // cluster: withdraws its presence (Signals.Join)

	pumping atomic.Bool // a pump runs: started and stopped as deliveries come and go
	ready   atomic.Bool // the welcome is out: deliveries may follow

	// The window: deliveries sent and not yet acked, at most Window of
	// them and maxWindowBytes (one delivery always fits).
	mu            sync.Mutex
	sentSeq       int64            // last seq sent or skipped, in channel order
	inflight      map[int64]flight // by seq
	inflightBytes int
	cursor        int64       // everything up to here is acked or skipped
	checking      *aliveCheck // a ping in progress (answers)
	adopted       adopted     // what it adopted before start (adopted.go)
}

// peer is what a session keeps of the request that opened it.
type peer struct {
	base   string // the relay's URL as the agent reached it
	remote string
}

func (s *Server) serveAgent(w http.ResponseWriter, r *http.Request) {
	conn, err := wire.Accept(&s.upgrader, w, r)
	if err != nil {
		return // the upgrader has answered
	}
	if s.cfg.idleWait > 0 {
		conn.SetIdleWait(s.cfg.idleWait)
	}
	// The session runs on goroutines of its own (wire.Conn.Serve) so that
	// this handler returns: net/http keeps a 4 KiB reader and writer per
	// connection for as long as its handler runs, which idle agents do not
	// need.
	p := peer{base: s.baseURL(r), remote: r.RemoteAddr}
	if !s.startSession(func(end func()) { s.runAgent(conn, p, end) }) {
		conn.Abort() // the relay is closing
	}
}

// runAgent serves one agent's connection (a WebSocket, or in hooktap dev
// one end of a wire.Pipe: attach.go) until it ends, then calls end. It
// returns at once: no goroutine waits for the connection's end, as each
// would keep a stack for each of thousands of idle agents.
func (s *Server) runAgent(conn *wire.Conn, p peer, end func()) {
	conn.SetReadLimit(s.frameLimit) // acks carry the app's answers
	a := &agentConn{srv: s, conn: conn, peer: p}
	// The first message must be a hello, soon.
	a.helloTimer = time.AfterFunc(10*time.Second, func() {
		conn.Close(websocket.ClosePolicyViolation, "no hello within 10s")
	})
	// The session ends with conn: its pump and its reads of the buffer stop
	// on conn.Done(), or on the relay's shutdown. It has no context of its
	// own, which each of thousands of idle agents would keep.
	conn.Serve(s.ctx, a.handle, func(err error) {
		a.ended(err)
		end()
	})
}

// agentConn is what runAgent keeps of a connection while it is served.
type agentConn struct {
	srv        *Server
	conn       *wire.Conn
	peer       peer
	helloTimer *time.Timer // until the hello
	ss         *session    // once the hello is in
}

// handle handles one message from the agent.
func (a *agentConn) handle(m wire.Message) error {
	s, ctx, conn := a.srv, a.srv.ctx, a.conn
	switch m := m.(type) {
	case *wire.Hello:
		if a.ss != nil {
			return s.refuse(ctx, conn, wire.CodeBadRequest, "hello sent twice")
		}
		a.helloTimer.Stop()
		a.helloTimer = nil // not kept for the connection's life
		// Opening a session goes deep (authorization, the buffer,
		// logging): on a stack of its own, so that this reader's stays
		// small for the connection's life.
		return onFreshStack(func() (err error) {
			a.ss, err = s.open(ctx, conn, m, a.peer)
			return err
		})
	case *wire.Ack:
		if a.ss == nil {
			return s.refuse(ctx, conn, wire.CodeBadRequest, "ack before hello")
		}
		a.ss.ack(m)
	case *wire.Unknown:
		s.log.Debug("agent sent a message of unknown type", "type", m.Type)
	default:
		s.log.Debug("agent sent an unexpected message", "type", m.MessageType())
	}
	return nil
}

// ended is the end of the connection: the session, if any, ends too.
func (a *agentConn) ended(err error) {
	if a.helloTimer != nil {
		a.helloTimer.Stop()
	}
	if a.ss != nil {
		a.srv.unregister(a.ss)
	}
	var ce *websocket.CloseError
	if err != nil && !errors.Is(err, wire.ErrClosed) && !errors.As(err, &ce) {
		a.srv.log.Debug("agent connection ended", "remote", a.peer.remote, "err", err)
	}
}

// refuse tells the agent why and closes the connection.
func (s *Server) refuse(ctx context.Context, conn *wire.Conn, code, msg string) error {
	_ = conn.Send(ctx, &wire.Error{Code: code, Message: msg})
	conn.Close(websocket.ClosePolicyViolation, code)
	return errors.New(code + ": " + msg)
}

// open starts a session for a hello. A refusal is sent to the agent.
func (s *Server) open(ctx context.Context, conn *wire.Conn, h *wire.Hello, p peer) (*session, error) {
	if why := checkHello(h); why != "" {
		return nil, s.refuse(ctx, conn, wire.CodeBadRequest, why)
	}
	if err := s.authorize(ctx, conn, h); err != nil { // team mode: channel and token (auth.go)
		return nil, err
	}
	start, head, err := s.bind(ctx, conn, h, p)
	if err != nil {
		return nil, err
	}
	if s.copyRunning(h) {
		return nil, s.refuseCopy(ctx, conn, h, p)
	}
	ss := &session{
		srv:      s,
		conn:     conn,
		channel:  h.Channel,
		agentID:  h.AgentID,
		instance: h.Instance,
		filter:   Filter{Events: h.Events, ObjectTypes: h.ObjectTypes, EntityIDs: h.EntityIDs},
		room:     make(chan struct{}, 1),
		start:    start,
		sentSeq:  start,
		cursor:   start,
		resumeTo: head,
		inflight: map[int64]flight{},
	}
	ss.adoptThrough.Store(start)
	ss.adopt.Store(true)
	if err := s.welcome(ctx, ss, h, p); err != nil {
		return nil, err
	}
	if start < head {
		ss.kick.Store(true) // it missed something: catch up first
	}
	ss.ready.Store(true)
	ss.wake()
	s.log.Info("agent connected", "channel", h.Channel, "agent", h.AgentID, "remote", p.remote, "resume_after", start)
	return ss, nil
}

// refuseCopy refuses a hello whose agent runs elsewhere (copyRunning).
func (s *Server) refuseCopy(ctx context.Context, conn *wire.Conn, h *wire.Hello, p peer) error {
	s.log.Warn("agent refused: a copy of its store is connected", "channel", h.Channel, "agent", h.AgentID, "remote", p.remote)
	return s.refuse(ctx, conn, wire.CodeAgentTaken, "agent id "+h.AgentID+" is in use on channel "+h.Channel+
		" by another running agent with a copy of this store; use another --db to connect as a new agent")
}

// copyRunning reports whether another run of the hello's agent (same id
// and key, another instance) is connected and answers a ping: two copies
// of one store, which would otherwise take each other's place forever. An
// older connection that does not answer is a reconnect racing a
// half-open socket, and the newest connection wins (register). On a
// cluster, a run connected to another node is checked by Signals.Join.
func (s *Server) copyRunning(h *wire.Hello) bool {
	return s.otherRunAnswers(h.Channel, h.AgentID, h.Instance)
}

// otherRunAnswers reports whether a session of agentID on channel here is
// of another run than instance, and answers a ping.
func (s *Server) otherRunAnswers(channel, agentID, instance string) bool {
	old := s.sessionOf(channel, agentID)
	if old == nil || old.instance == "" || old.instance == instance {
		return false
	}
	return old.answers()
}

// sessionOf is agentID's session of channel on this relay, or nil.
func (s *Server) sessionOf(channel, agentID string) *session {
	s.mu.Lock()
	defer s.mu.Unlock()
	var found *session
	if ch := s.channels[channel]; ch != nil {
		for o := range ch.sessions {
			if o.agentID == agentID {
				found = o
			}
		}
	}
	return found
}

// copyCheck is how long an older connection of an agent has to answer a
// ping before a new run of it takes its place.
const copyCheck = 2 * time.Second

// aliveCheck is a ping of a session's agent in progress.
type aliveCheck struct {
	done chan struct{}
	ok   bool
}

// answers reports whether ss's agent answers a ping within copyCheck.
// Checks at once (two copies connecting, on this node and on others)
// share one ping: wire.Conn.Alive takes one caller at a time, and a second
// one would never see its pong and take a live agent for dead.
func (ss *session) answers() bool {
	ss.mu.Lock()
	c := ss.checking
	if c != nil {
		ss.mu.Unlock()
		<-c.done
		return c.ok
	}
	c = &aliveCheck{done: make(chan struct{})}
	ss.checking = c
	ss.mu.Unlock()
	c.ok = ss.conn.Alive(copyCheck)
	ss.mu.Lock()
	ss.checking = nil
	ss.mu.Unlock()
	close(c.done)
	return c.ok
}

// checkHello says what is wrong with a hello, or "".
func checkHello(h *wire.Hello) string {
	switch {
	case !ValidChannel(h.Channel):
		return "bad channel name " + h.Channel
	case h.AgentID == "" || len(h.AgentID) > 64:
		return "hello without a valid agent_id"
	case len(h.AgentKey) < 16 || len(h.AgentKey) > 128:
		return "hello without an agent key: this relay needs a newer hooktap"
	}
	if err := (Filter{h.Events, h.ObjectTypes, h.EntityIDs}).Validate(); err != nil {
		return err.Error()
	}
	return ""
}

// bind binds the hello's agent id to its key, and returns where the
// agent's session starts and the channel's head. A refusal is sent to the
// agent.
func (s *Server) bind(ctx context.Context, conn *wire.Conn, h *wire.Hello, p peer) (start, head int64, err error) {
	err = onFreshStack(func() error {
		var err error
		if start, err = s.store.Bind(ctx, h.Channel, h.AgentID, keyHash(h.AgentKey)); err != nil {
			return err
		}
		head, err = s.store.Head(ctx, h.Channel)
		return err
	})
	if errors.Is(err, ErrAgentTaken) {
		s.log.Warn("agent refused: its id is bound to another key", "channel", h.Channel, "agent", h.AgentID, "remote", p.remote)
		return 0, 0, s.refuse(ctx, conn, wire.CodeAgentTaken, "agent id "+h.AgentID+" is bound to another agent's key on channel "+h.Channel+
			" (a copy of this store elsewhere?); use another --db to connect as a new agent")
	}
	if err != nil {
		s.log.Error("agent refused for now: the relay cannot read or write its buffer", "channel", h.Channel, "err", err)
		return 0, 0, s.refuse(ctx, conn, wire.CodeUnavailable, "the relay cannot use its storage just now; retrying")
	}
	return start, head, nil
}

// welcome registers ss and tells its agent it is in. Registered before
// the welcome, so that nothing posted after the agent hears it is missed;
// deliveries are queued meanwhile, and the pump starts once the welcome is
// out (ready). On a cluster the agent is announced to the other nodes
// before the welcome too, as that is where a running copy of it on
// another node is found.
func (s *Server) welcome(ctx context.Context, ss *session, h *wire.Hello, p peer) error {
	s.register(ss)
	if s.signals != nil {
		leave, taken := s.signals.Join(ss.channel, ss.agentID, ss.instance, ss.filter, func() {
			ss.conn.Close(websocket.CloseNormalClosure, wire.CodeReplaced)
		})
		if taken {
			// Not unregister: its cursor is the running copy's.
			s.remove(ss)
			return s.refuseCopy(ctx, ss.conn, h, p)
		}
		ss.leave = leave
	}
	err := ss.conn.Send(ctx, &wire.Welcome{
		Channel:  h.Channel,
		URL:      s.agentURL(p.base, h.Channel), // with its URL secret, if any (admin.go)
		AgentID:  h.AgentID,
		Relay:    "hooktap " + s.cfg.Version,
		Binary:   h.Binary,
		MaxFrame: s.frameLimit,
		// The trip back to the sender needs a moment: see the agent's
		// answerMargin.
		AnswerWithin: s.cfg.ResponseTimeout.Milliseconds(),
	})
	if err != nil {
		s.unregister(ss)
		return err
	}
	if h.Binary {
		ss.conn.UseBinary() // before the next read: the agent's acks may be binary
	}
	return nil
}

// register adds ss to its channel; an older session of the same agent is
// closed.
func (s *Server) register(ss *session) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ch := s.channels[ss.channel]
	if ch == nil {
		ch = &channel{sessions: map[*session]struct{}{}}
		s.channels[ss.channel] = ch
	}
	for old := range ch.sessions {
		if old.agentID == ss.agentID {
			// Same agent again (a reconnect racing a half-open socket):
			// the newest connection wins.
			delete(ch.sessions, old)
			old.conn.Close(websocket.CloseNormalClosure, wire.CodeReplaced)
		}
	}
	ch.sessions[ss] = struct{}{}
}

// unregister ends ss: it leaves its channel, and what it had is saved for
// its return or left to other agents.
func (s *Server) unregister(ss *session) {
	if ss.leave != nil {
		ss.leave() // cluster: the other nodes stop counting it
	}
	if s.remove(ss) && s.aloneInCluster(ss) {
		// Nobody else can answer the senders waiting on what this agent had
		// in flight: tell them now that it is kept, rather than at the
		// timeout.
		ss.mu.Lock()
		for _, f := range ss.inflight {
			if s.signals != nil {
				s.signals.Release(f.reply, f.id) // the sender may wait on another node
			} else {
				s.release(f.id)
			}
		}
		ss.mu.Unlock()
	}
	if s.signals != nil {
		// Agents on other nodes adopt what it leaves (a single relay's
		// buffer tracks every delivery until it is acked).
		ss.mu.Lock()
		ps := make([]Pending, 0, len(ss.inflight))
		for seq, f := range ss.inflight {
			ps = append(ps, Pending{seq, f.ev})
		}
		ss.mu.Unlock()
		s.store.Unclaim(ss.channel, ps)
	}
	s.saveLeaving(ss) // cursors.go
	s.offerLeftovers(ss.channel)
	s.log.Info("agent disconnected", "channel", ss.channel, "agent", ss.agentID)
}

// remove takes ss out of its channel. It reports whether ss was the
// channel's last session.
func (s *Server) remove(ss *session) (last bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ch := s.channels[ss.channel]
	if ch == nil {
		return true
	}
	delete(ch.sessions, ss)
	if len(ch.sessions) > 0 {
		return false
	}
	delete(s.channels, ss.channel)
	return true
}

// Agents is the number of connected agents per channel.
func (s *Server) Agents() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]int, len(s.channels))
	for name, ch := range s.channels {
		out[name] = len(ch.sessions)
	}
	return out
}

// connected reports whether agentID is connected to channel.
func (s *Server) connected(channel, agentID string) bool {
	if s.signals != nil { // any node's
		if _, ok := s.signals.Agents(channel)[agentID]; ok {
			return true
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if ch := s.channels[channel]; ch != nil {
		for ss := range ch.sessions {
			if ss.agentID == agentID {
				return true
			}
		}
	}
	return false
}

// keyHash is how the relay keeps an agent's key: hex SHA-256 (keys are
// 256 random bits, so a plain hash is a sound way to store them).
func keyHash(key string) string {
	h := sha256.Sum256([]byte(key))
	return hex.EncodeToString(h[:])
}

// onFreshStack runs f on a short-lived goroutine and waits for it. Database
// calls grow a goroutine's stack a lot; doing them here keeps the stacks of
// the thousands of idle sessions small.
func onFreshStack(f func() error) error {
	done := make(chan error, 1)
	go func() { done <- f() }()
	return <-done
}

// pingLoop pings every agent every wire.PingPeriod, so that dead
// connections are noticed (their reads time out) without a goroutine per
// connection.
func (s *Server) pingLoop() {
	every := wire.PingPeriod
	if s.cfg.idleWait > 0 {
		every = s.cfg.idleWait * 9 / 10
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-t.C:
		case <-s.ctx.Done():
			return
		}
		s.mu.Lock()
		conns := make([]*wire.Conn, 0, len(s.channels))
		for _, ch := range s.channels {
			for ss := range ch.sessions {
				conns = append(conns, ss.conn)
			}
		}
		s.mu.Unlock()
		for _, c := range conns {
			c.Ping() // a failed ping closes the connection
		}
	}
}
