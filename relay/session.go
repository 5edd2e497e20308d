package relay

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"path"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"

	"github.com/hooktap/hooktap/relay/payload"
	"github.com/hooktap/hooktap/relay/wire"
)

// channel is the set of agent sessions listening on one channel name.
type channel struct {
	name     string
	sessions map[*session]struct{} // guarded by Server.mu
}

// item is a delivery on its way to a session.
type item struct {
	d      *wire.Delivery
	action string
	size   int // wire.Size(d)
}

// flight is a delivery sent to the agent and not yet acked.
type flight struct {
	id   string
	size int
}

// session is one connected agent. Deliveries reach it live through a
// bounded queue; when the queue overflows, or after a reconnect, it reads
// what it missed from the buffer, in order.
type session struct {
	srv     *Server
	conn    *wire.Conn
	channel string
	agentID string
	events  []string

	// Deliveries queued in memory, at most Window of them and
	// maxQueueBytes; the slice is released when empty, so an idle session
	// holds none.
	qmu        sync.Mutex
	queue      []item
	queueBytes int
	kick       atomic.Bool // the queue overflowed: catch up from the buffer

	room chan struct{} // a token when an ack made room in the window

	resumeTo int64 // channel head when the session opened: what it may have seen
	// adopt: unclaimed deliveries up to the session's start are sent
	// first (buffer.go, Unclaimed); adoptThrough is that start.
	adopt        atomic.Bool
	adoptThrough int64

	pumping atomic.Bool // a pump runs: started and stopped as deliveries come and go
	ready   atomic.Bool // the welcome is out: deliveries may follow

	// The window: deliveries sent and not yet acked, at most Window of
	// them and maxWindowBytes (one delivery always fits).
	mu            sync.Mutex
	sentSeq       int64            // last seq sent or skipped, in channel order
	inflight      map[int64]flight // by seq
	inflightBytes int
	cursor        int64 // everything up to here is acked or skipped
}

// onFreshStack runs f on a short-lived goroutine and waits for it. Database
// calls grow a goroutine's stack a lot; doing them here keeps the stacks of
// the thousands of idle sessions small.
func onFreshStack(f func() error) error {
	done := make(chan error, 1)
	go func() { done <- f() }()
	return <-done
}

// MatchEvents reports whether an action matches any of the glob patterns
// (path.Match syntax: "payable.*", "counterpart.created"). No patterns
// match everything.
func MatchEvents(patterns []string, action string) bool {
	if len(patterns) == 0 {
		return true
	}
	for _, p := range patterns {
		if ok, _ := path.Match(p, action); ok {
			return true
		}
	}
	return false
}

// ValidatePatterns checks event globs for syntax errors.
func ValidatePatterns(patterns []string) error {
	for _, p := range patterns {
		if _, err := path.Match(p, ""); err != nil {
			return errors.New("bad event pattern " + p)
		}
	}
	return nil
}

// publish offers d to every session of its channel. It reports how many
// sessions are connected, how many subscribe to d's event, and how many took
// it live (subscribed, and not behind).
func (s *Server) publish(d *wire.Delivery, action string) (connected, matched, live int) {
	it := item{d, action, wire.Size(d)}
	s.mu.Lock()
	defer s.mu.Unlock()
	ch := s.channels[d.Channel]
	if ch == nil {
		return 0, 0, 0
	}
	for ss := range ch.sessions {
		connected++
		m, l := ss.offer(it)
		if m {
			matched++
		}
		if l {
			live++
		}
	}
	return connected, matched, live
}

// offer queues it without blocking. It reports whether the session
// subscribes to it and whether it will send it now; a full queue makes the
// session catch up from the buffer instead.
func (ss *session) offer(it item) (match, live bool) {
	match = MatchEvents(ss.events, it.action)
	ss.qmu.Lock()
	if len(ss.queue) < ss.srv.cfg.Window && (len(ss.queue) == 0 || ss.queueBytes+it.size <= maxQueueBytes) {
		ss.queue = append(ss.queue, it)
		ss.queueBytes += it.size
		live = match
	} else {
		ss.kick.Store(true)
	}
	ss.qmu.Unlock()
	ss.wake()
	return match, live
}

// next takes the oldest queued delivery.
func (ss *session) next() (item, bool) {
	ss.qmu.Lock()
	defer ss.qmu.Unlock()
	if len(ss.queue) == 0 {
		return item{}, false
	}
	it := ss.queue[0]
	ss.queue[0] = item{}
	ss.queue = ss.queue[1:]
	ss.queueBytes -= it.size
	if len(ss.queue) == 0 {
		ss.queue = nil // give the memory back while idle
	}
	return it, true
}

func (ss *session) idle() bool {
	ss.qmu.Lock()
	defer ss.qmu.Unlock()
	return len(ss.queue) == 0 && !ss.kick.Load()
}

func (s *Server) serveAgent(w http.ResponseWriter, r *http.Request) {
	ws, err := s.upgrader.Upgrade(w, r, nil)
	if err != nil {
		return // the upgrader has answered
	}
	// The session runs on a goroutine of its own so that this handler
	// returns: net/http keeps a 4 KiB reader and writer per connection for
	// as long as its handler runs, which idle agents do not need.
	p := peer{base: s.baseURL(r), remote: r.RemoteAddr}
	s.sessions.Add(1)
	go func() {
		defer s.sessions.Done()
		s.runAgent(ws, p)
	}()
}

// peer is what a session keeps of the request that opened it.
type peer struct {
	base   string // the relay's URL as the agent reached it
	remote string
}

func (s *Server) runAgent(ws *websocket.Conn, p peer) {
	conn := wire.NewConn(ws)
	conn.SetReadLimit(s.frameLimit) // acks carry the app's answers
	// The session ends with conn: its pump and its reads of the buffer stop
	// on conn.Done(), or on the relay's shutdown. It has no context of its
	// own, which each of thousands of idle agents would keep.
	ctx := s.ctx

	// The first message must be a hello, soon.
	helloTimer := time.AfterFunc(10*time.Second, func() {
		conn.Close(websocket.ClosePolicyViolation, "no hello within 10s")
	})
	defer func() {
		if helloTimer != nil {
			helloTimer.Stop()
		}
	}()

	var ss *session
	err := conn.Run(ctx, func(m wire.Message) error {
		switch m := m.(type) {
		case *wire.Hello:
			if ss != nil {
				return s.refuse(ctx, conn, wire.CodeBadRequest, "hello sent twice")
			}
			helloTimer.Stop()
			helloTimer = nil // not kept for the connection's life
			// Opening a session goes deep (authorization, the buffer,
			// logging): on a stack of its own, so that this reader's stays
			// small for the connection's life.
			if err := onFreshStack(func() (err error) {
				ss, err = s.open(ctx, conn, m, p)
				return err
			}); err != nil {
				return err
			}
		case *wire.Ack:
			if ss == nil {
				return s.refuse(ctx, conn, wire.CodeBadRequest, "ack before hello")
			}
			ss.ack(m)
		case *wire.Unknown:
			s.log.Debug("agent sent a message of unknown type", "type", m.Type)
		default:
			s.log.Debug("agent sent an unexpected message", "type", m.MessageType())
		}
		return nil
	})
	if ss != nil {
		s.unregister(ss)
	}
	var ce *websocket.CloseError
	if err != nil && !errors.Is(err, wire.ErrClosed) && !errors.As(err, &ce) {
		s.log.Debug("agent connection ended", "remote", p.remote, "err", err)
	}
}

// refuse tells the agent why and closes the connection.
func (s *Server) refuse(ctx context.Context, conn *wire.Conn, code, msg string) error {
	_ = conn.Send(ctx, &wire.Error{Code: code, Message: msg})
	conn.Close(websocket.ClosePolicyViolation, code)
	return errors.New(code + ": " + msg)
}

// open starts a session for a hello.
func (s *Server) open(ctx context.Context, conn *wire.Conn, h *wire.Hello, p peer) (*session, error) {
	if !ValidChannel(h.Channel) {
		return nil, s.refuse(ctx, conn, wire.CodeBadRequest, "bad channel name "+h.Channel)
	}
	if h.AgentID == "" || len(h.AgentID) > 64 {
		return nil, s.refuse(ctx, conn, wire.CodeBadRequest, "hello without a valid agent_id")
	}
	if len(h.AgentKey) < 16 || len(h.AgentKey) > 128 {
		return nil, s.refuse(ctx, conn, wire.CodeBadRequest, "hello without an agent key: this relay needs a newer hooktap")
	}
	if err := ValidatePatterns(h.Events); err != nil {
		return nil, s.refuse(ctx, conn, wire.CodeBadRequest, err.Error())
	}
	if err := s.authorize(ctx, conn, h); err != nil { // team mode: channel and token (auth.go)
		return nil, err
	}
	var start, head int64
	err := onFreshStack(func() error {
		var err error
		if start, err = s.buf.Bind(ctx, h.Channel, h.AgentID, keyHash(h.AgentKey)); err != nil {
			return err
		}
		head, err = s.buf.Head(ctx, h.Channel)
		return err
	})
	if errors.Is(err, ErrAgentTaken) {
		s.log.Warn("agent refused: its id is bound to another key", "channel", h.Channel, "agent", h.AgentID, "remote", p.remote)
		return nil, s.refuse(ctx, conn, wire.CodeAgentTaken, "agent id "+h.AgentID+" is bound to another agent's key on channel "+h.Channel+
			" (a copy of this store elsewhere?); use another --db to connect as a new agent")
	}
	if err != nil {
		return nil, s.refuse(ctx, conn, wire.CodeBadRequest, "relay storage error")
	}
	ss := &session{
		srv:      s,
		conn:     conn,
		channel:  h.Channel,
		agentID:  h.AgentID,
		events:   h.Events,
		room:     make(chan struct{}, 1),
		sentSeq:  start,
		cursor:   start,
		resumeTo: head,
		inflight: map[int64]flight{},

		adoptThrough: start,
	}
	ss.adopt.Store(s.buf.HasUnclaimed(h.Channel))
	welcome := &wire.Welcome{
		Channel:  h.Channel,
		URL:      s.agentURL(p.base, h.Channel), // with its URL secret, if any (admin.go)
		AgentID:  h.AgentID,
		Relay:    "hooktap " + s.cfg.Version,
		Binary:   h.Binary,
		MaxFrame: s.frameLimit,
	}
	// Registered before the welcome, so that nothing posted after the agent
	// hears it is missed; deliveries are queued meanwhile, and the pump
	// starts once the welcome is out (ready).
	s.register(ss)
	if err := conn.Send(ctx, welcome); err != nil {
		s.unregister(ss)
		return nil, err
	}
	if h.Binary {
		conn.UseBinary() // before the next read: the agent's acks may be binary
	}
	if start < head {
		ss.kick.Store(true) // it missed something: catch up first
	}
	ss.ready.Store(true)
	ss.wake()
	s.log.Info("agent connected", "channel", h.Channel, "agent", h.AgentID, "remote", p.remote, "resume_after", start)
	return ss, nil
}

func (s *Server) register(ss *session) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ch := s.channels[ss.channel]
	if ch == nil {
		ch = &channel{name: ss.channel, sessions: map[*session]struct{}{}}
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

func (s *Server) unregister(ss *session) {
	s.mu.Lock()
	alone := true
	if ch := s.channels[ss.channel]; ch != nil {
		delete(ch.sessions, ss)
		alone = len(ch.sessions) == 0
		if alone {
			delete(s.channels, ss.channel)
		}
	}
	s.mu.Unlock()
	if alone {
		// Nobody else can answer the senders waiting on what this agent had
		// in flight: tell them now that it is kept, rather than at the
		// timeout.
		ss.mu.Lock()
		for _, f := range ss.inflight {
			s.release(f.id)
		}
		ss.mu.Unlock()
	}
	// Save where it stopped now, so that a quick reconnect resumes there.
	s.dirtyMu.Lock()
	delete(s.dirty, ss)
	s.dirtyMu.Unlock()
	ss.mu.Lock()
	c := Cursor{Channel: ss.channel, AgentID: ss.agentID, Seq: ss.cursor}
	flying := make([]int64, 0, len(ss.inflight))
	for seq := range ss.inflight {
		flying = append(flying, seq)
	}
	sent := ss.sentSeq
	ss.mu.Unlock()
	// What it had in flight, and what it had not been sent yet, it leaves
	// unclaimed: for the next agent whose filter matches, if it is gone
	// for good (it gets them again itself when it comes back).
	head, _ := s.buf.Head(s.ctx, ss.channel)
	s.buf.MarkUnclaimed(ss.channel, flying, sent, head)
	select {
	case <-s.buf.SetCursors([]Cursor{c}, nil): // committed after the marks
	case <-time.After(5 * time.Second):
	}
	s.log.Info("agent disconnected", "channel", ss.channel, "agent", ss.agentID)
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

// wake makes sure a pump is working through the session's queue. Idle
// sessions have no goroutine of their own besides the reader: with
// thousands of agents connected, that is most of the relay's memory.
func (ss *session) wake() {
	if ss.ready.Load() && ss.pumping.CompareAndSwap(false, true) {
		go ss.pump()
	}
}

// pump sends queued deliveries to the agent, in channel order, until the
// queue is empty or the connection ends.
func (ss *session) pump() {
	for {
		if !ss.drain() {
			return // the session is over; pumping stays set
		}
		ss.pumping.Store(false)
		// Something may have been queued after drain looked.
		if ss.idle() {
			return
		}
		if !ss.pumping.CompareAndSwap(false, true) {
			return // another pump took over
		}
	}
}

// drain handles what is queued. It reports false when the session is over.
// What is queued together goes to the agent together, in one frame when
// the agent reads binary frames.
func (ss *session) drain() bool {
	ctx := ss.srv.ctx // the pump stops with the relay, or with conn (below)
	var b batch
	defer b.reset()
	for {
		select {
		case <-ss.conn.Done():
			return false
		case <-ctx.Done():
			return false
		default:
		}
		if ss.adopt.CompareAndSwap(true, false) {
			if !ss.flush(ctx, &b) || !ss.adoptUnclaimed(ctx) {
				return false
			}
			continue
		}
		if ss.kick.CompareAndSwap(true, false) {
			if !ss.flush(ctx, &b) || !ss.catchUp(ctx) {
				return false
			}
			continue
		}
		it, ok := ss.next()
		if !ok {
			return ss.flush(ctx, &b)
		}
		seq := it.d.Seq
		if seq <= ss.sent() {
			continue // already sent from the buffer
		}
		if seq > ss.sent()+1 {
			// A gap: something did not fit in the queue. Everything up to
			// seq has its write on the way, and catchUp waits for it.
			if !ss.flush(ctx, &b) || !ss.catchUp(ctx) {
				return false
			}
			if seq <= ss.sent() {
				continue
			}
		}
		if !ss.send(ctx, it.d, it.action, it.size, &b) {
			return false
		}
	}
}

// batch is deliveries taken from the queue and not yet written: they go
// to the agent together, in one frame when it reads binary frames.
type batch struct {
	msgs  []wire.Message
	bytes int
}

// maxBatch bounds the deliveries written in one frame; wire.FrameTarget
// bounds their bytes.
const maxBatch = 64

func (b *batch) reset() {
	clear(b.msgs)
	b.msgs, b.bytes = b.msgs[:0], 0
}

// flush writes what b holds. It reports false when the session is over.
func (ss *session) flush(ctx context.Context, b *batch) bool {
	if len(b.msgs) == 0 {
		return true
	}
	err := ss.conn.SendAll(ctx, b.msgs...)
	b.reset()
	return err == nil
}

func (ss *session) sent() int64 {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	return ss.sentSeq
}

// catchUp sends everything in the buffer after sentSeq. It reports false when
// the session is over.
func (ss *session) catchUp(ctx context.Context) bool {
	const page = 128
	var b batch
	defer b.reset()
	for {
		var ds []*wire.Delivery
		var more bool
		err := onFreshStack(func() error {
			// Deliveries are published while they are being committed:
			// wait for those, or a gap could be read as the end.
			if err := ss.srv.buf.Settled(ctx, ss.channel); err != nil {
				return err
			}
			var err error
			ds, more, err = ss.srv.buf.After(ctx, ss.channel, ss.sent(), page, catchUpBytes)
			return err
		})
		if err != nil {
			if ctx.Err() == nil {
				ss.srv.log.Error("read buffer", "channel", ss.channel, "err", err)
				ss.conn.Close(websocket.CloseInternalServerErr, "relay storage error")
			}
			return false
		}
		for _, d := range ds {
			// Only what existed when the agent connected may have reached
			// it before; later deliveries are new to it.
			d.Resumed = d.Seq <= ss.resumeTo
			f := payload.Parse(d.Header, d.Body)
			d.Fields = &f
			if !ss.send(ctx, d, f.Action, wire.Size(d), &b) {
				return false
			}
		}
		if !ss.flush(ctx, &b) {
			return false
		}
		if !more {
			return true
		}
	}
}

// adoptUnclaimed sends the unclaimed deliveries up to the session's start
// that the agent's filter matches, before anything else: deliveries no
// agent took, which a new agent would otherwise never see. It reports
// false when the session is over.
func (ss *session) adoptUnclaimed(ctx context.Context) bool {
	const page = 128
	var b batch
	defer b.reset()
	after := int64(0)
	for {
		var ds []*wire.Delivery
		var more bool
		err := onFreshStack(func() error {
			var err error
			ds, more, err = ss.srv.buf.Unclaimed(ctx, ss.channel, after, ss.adoptThrough, page, catchUpBytes)
			return err
		})
		if err != nil {
			if ctx.Err() == nil {
				ss.srv.log.Error("read buffer", "channel", ss.channel, "err", err)
				ss.conn.Close(websocket.CloseInternalServerErr, "relay storage error")
			}
			return false
		}
		for _, d := range ds {
			after = d.Seq
			f := payload.Parse(d.Header, d.Body)
			d.Fields, d.Resumed = &f, true // it may have been this agent's before
			if MatchEvents(ss.events, f.Action) && !ss.enqueue(ctx, d, wire.Size(d), &b, false) {
				return false
			}
		}
		if !ss.flush(ctx, &b) {
			return false
		}
		if !more {
			return true
		}
	}
}

// send adds d (of size bytes) to b if the agent's filter matches, once
// there is room for it in the window; while it waits, what b holds is
// written. It reports false when the session is over.
func (ss *session) send(ctx context.Context, d *wire.Delivery, action string, size int, b *batch) bool {
	if !MatchEvents(ss.events, action) {
		ss.mu.Lock()
		ss.sentSeq = d.Seq
		moved := ss.advance()
		ss.mu.Unlock()
		if moved {
			ss.srv.cursorMoved(ss, false, 0)
		}
		return true
	}
	return ss.enqueue(ctx, d, size, b, true)
}

// enqueue puts d in flight and in b, once there is room in the window;
// in channel order (next) it moves sentSeq, else (an older unclaimed
// delivery) it does not. It reports false when the session is over.
func (ss *session) enqueue(ctx context.Context, d *wire.Delivery, size int, b *batch, next bool) bool {
	if !ss.reserve(ctx, d, size, b, next) {
		return false
	}
	if len(b.msgs) > 0 && b.bytes+size > wire.FrameTarget && !ss.flush(ctx, b) {
		return false
	}
	b.msgs = append(b.msgs, d)
	b.bytes += size
	if len(b.msgs) >= maxBatch || b.bytes >= wire.FrameTarget {
		return ss.flush(ctx, b)
	}
	return true
}

// reserve waits for room for d in the window and puts it in flight. While
// it waits, what b holds is written, so that acks can come. It reports
// false when the session is over.
func (ss *session) reserve(ctx context.Context, d *wire.Delivery, size int, b *batch, next bool) bool {
	for {
		ss.mu.Lock()
		n := len(ss.inflight)
		if n < ss.srv.cfg.Window && (n == 0 || ss.inflightBytes+size <= maxWindowBytes) {
			if next {
				ss.sentSeq = d.Seq
			}
			ss.inflight[d.Seq] = flight{d.ID, size}
			ss.inflightBytes += size
			ss.mu.Unlock()
			return true
		}
		ss.mu.Unlock()
		if !ss.flush(ctx, b) {
			return false
		}
		select {
		case <-ss.room:
		case <-ss.conn.Done():
			return false
		case <-ctx.Done():
			return false
		}
	}
}

// advance moves the cursor to the highest seq below which nothing is in
// flight. It reports whether it moved. Callers hold mu.
func (ss *session) advance() bool {
	next := ss.sentSeq
	for seq := range ss.inflight {
		if seq-1 < next {
			next = seq - 1
		}
	}
	if next > ss.cursor {
		ss.cursor = next
		return true
	}
	return false
}

// ack records the agent's answer for one delivery. Only a delivery in
// flight on this session can be acked: an agent cannot answer for one it
// was not sent (another channel's, or one it has not received yet).
func (ss *session) ack(a *wire.Ack) {
	ss.mu.Lock()
	f, ok := ss.inflight[a.Seq]
	if !ok || f.id != a.ID {
		ss.mu.Unlock()
		ss.srv.log.Debug("agent acked a delivery it does not have in flight", "channel", ss.channel, "agent", ss.agentID, "seq", a.Seq)
		return
	}
	delete(ss.inflight, a.Seq)
	ss.inflightBytes -= f.size
	moved := ss.advance()
	ss.mu.Unlock()
	select {
	case ss.room <- struct{}{}:
	default:
	}
	ss.srv.resolve(a)
	claimed := ss.srv.buf.HasUnclaimed(ss.channel)
	if moved || claimed {
		ss.srv.cursorMoved(ss, claimed, a.Seq)
	}
}

// cursorMoved marks a session whose cursor must be saved, and, when
// claimed, a delivery it acked that may be marked unclaimed. Both are
// written in batches, cursorFlush after the first one: losing the last
// ones in a crash only means redelivering what agents recognise by id. An
// idle relay schedules nothing, so it never wakes up for this.
func (s *Server) cursorMoved(ss *session, claimed bool, seq int64) {
	s.dirtyMu.Lock()
	first := len(s.dirty) == 0 && len(s.claims) == 0
	s.dirty[ss] = struct{}{}
	if claimed {
		s.claims = append(s.claims, Claim{Channel: ss.channel, Seq: seq})
	}
	s.dirtyMu.Unlock()
	if first {
		time.AfterFunc(cursorFlush, func() {
			if s.ctx.Err() == nil {
				s.flushCursors()
			}
		})
	}
}

const cursorFlush = 50 * time.Millisecond

// flushCursors saves the cursors that moved since the last flush.
func (s *Server) flushCursors() {
	s.dirtyMu.Lock()
	dirty, claims := s.dirty, s.claims
	s.dirty, s.claims = map[*session]struct{}{}, nil
	s.dirtyMu.Unlock()
	if len(dirty) == 0 && len(claims) == 0 {
		return
	}
	cs := make([]Cursor, 0, len(dirty))
	for ss := range dirty {
		ss.mu.Lock()
		cs = append(cs, Cursor{Channel: ss.channel, AgentID: ss.agentID, Seq: ss.cursor})
		ss.mu.Unlock()
	}
	s.buf.SetCursors(cs, claims)
}

// keyHash is how the relay keeps an agent's key: hex SHA-256 (keys are
// 256 random bits, so a plain hash is a sound way to store them).
func keyHash(key string) string {
	h := sha256.Sum256([]byte(key))
	return hex.EncodeToString(h[:])
}

// connected reports whether agentID is connected to channel.
func (s *Server) connected(channel, agentID string) bool {
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

// pingLoop pings every agent every wire.PingPeriod, so that dead
// connections are noticed (their reads time out) without a goroutine per
// connection.
func (s *Server) pingLoop() {
	t := time.NewTicker(wire.PingPeriod)
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
