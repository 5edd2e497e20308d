package wire

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
)

// Timing and size limits of a connection. Both ends use the same values.
const (
	WriteWait  = 10 * time.Second
	PongWait   = 60 * time.Second
	PingPeriod = PongWait * 9 / 10
	// MaxFrameSize is the least read limit of a connection, and the limit
	// until the relay says otherwise (Welcome.MaxFrame): a 5 MiB body
	// base64-encoded, plus headers.
	MaxFrameSize = 8 << 20
	// FrameTarget is the size at which several messages stop sharing a
	// frame: a frame holds more only when one message alone is larger.
	FrameTarget = 1 << 20
	// maxReadLimit caps what a peer may ask the other to read in one frame.
	maxReadLimit = 1 << 30
)

// frameOverhead is what a delivery adds to its body in a frame at most:
// the relay reads at most 64 KiB of request headers, and the rest of a
// record is a few short fields.
const frameOverhead = 256 << 10

// FrameLimit is the largest frame a relay that accepts bodies of up to
// maxBody bytes sends or reads: one delivery, or one ack with an answer
// as large, in a binary frame or base64-encoded in a JSON one. Never less
// than MaxFrameSize.
func FrameLimit(maxBody int64) int64 {
	return min(max(MaxFrameSize, maxBody/3*4+4+frameOverhead), maxReadLimit)
}

// ErrClosed is returned by Send once the connection is closed.
var ErrClosed = errors.New("connection closed")

// Conn runs one WebSocket with exactly one reader (Run or Serve) and one writer at a
// time: Send writes under a lock, with a deadline, so that a slow peer
// costs the sender at most WriteWait and idle connections cost no goroutine
// of their own. Pings are the owner's to send (Ping), from one ticker for
// all its connections.
type Conn struct {
	ws     *websocket.Conn
	wmu    sync.Mutex // one writer at a time
	done   chan struct{}
	binary atomic.Bool                   // deliveries and acks go in binary frames
	pong   atomic.Pointer[chan struct{}] // told of pongs while Alive waits
	mem    *memEnd                       // not nil: an end of a Pipe, with no socket (pipe.go)
	fc     *frameConn                    // not nil: idle waits are shallow (Accept, Serve)
	// readWait is how long the peer may send nothing (no frame, no pong)
	// before the connection is closed: PongWait, shorter in tests.
	readWait time.Duration

	closeOnce sync.Once
}

// NewConn wraps ws, with a read limit of MaxFrameSize.
func NewConn(ws *websocket.Conn) *Conn {
	ws.SetReadLimit(MaxFrameSize)
	return &Conn{ws: ws, done: make(chan struct{}), readWait: PongWait}
}

// SetReadLimit raises or lowers the largest frame Run accepts (never below
// MaxFrameSize, nor above 1 GiB). Call it from the reader (Run's handler)
// or before Run.
func (c *Conn) SetReadLimit(n int64) {
	if c.mem != nil {
		return // nothing is read from a socket
	}
	c.ws.SetReadLimit(min(max(n, MaxFrameSize), maxReadLimit))
}

// SetIdleWait sets how long the peer may send nothing (no frame, no pong)
// before the connection is closed (default PongWait). Call it before Run or
// Serve.
func (c *Conn) SetIdleWait(d time.Duration) { c.readWait = d }

// UseBinary switches deliveries and acks to binary frames, both ways: each
// side calls it once the handshake agreed on it (Hello.Binary and
// Welcome.Binary), before the first binary frame can arrive. Until then a
// binary frame is a protocol error.
func (c *Conn) UseBinary() { c.binary.Store(true) }

// frameBufs holds the buffers binary frames are built in, shared by all
// connections so that an idle one holds none.
var frameBufs = sync.Pool{New: func() any { return new([]byte) }}

// Send writes m. A write that fails or takes longer than WriteWait closes
// the connection.
func (c *Conn) Send(ctx context.Context, m Message) error {
	return c.SendAll(ctx, m)
}

// SendAll writes msgs in order: in binary frames when the connection uses
// binary frames and all of them have a binary form, as few as FrameTarget
// allows (a message larger than that goes alone); else a text frame each.
// A write that fails or takes longer than WriteWait closes the connection.
func (c *Conn) SendAll(ctx context.Context, msgs ...Message) error {
	if len(msgs) == 0 {
		return nil
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if c.mem != nil {
		return c.sendMem(ctx, msgs)
	}
	if c.binary.Load() && allBinary(msgs) {
		for len(msgs) > 0 {
			n, size := 1, Size(msgs[0])
			for n < len(msgs) && size+Size(msgs[n]) <= FrameTarget {
				size += Size(msgs[n])
				n++
			}
			if err := c.writeBinary(msgs[:n]); err != nil {
				return err
			}
			msgs = msgs[n:]
		}
		return nil
	}
	for _, m := range msgs {
		b, err := Encode(m)
		if err != nil {
			return err
		}
		if err := c.write(websocket.TextMessage, b, m); err != nil {
			return err
		}
	}
	return nil
}

// writeBinary writes msgs in one binary frame.
func (c *Conn) writeBinary(msgs []Message) error {
	bp := frameBufs.Get().(*[]byte)
	defer func() {
		if cap(*bp) <= FrameTarget { // keep big bodies' buffers out of the pool
			frameBufs.Put(bp)
		}
	}()
	b, err := AppendBinary((*bp)[:0], msgs...)
	if err != nil {
		return err
	}
	*bp = b
	return c.write(websocket.BinaryMessage, b, msgs[0])
}

func allBinary(msgs []Message) bool {
	for _, m := range msgs {
		if !binaryMessage(m) {
			return false
		}
	}
	return true
}

// write sends one frame under the write lock.
func (c *Conn) write(typ int, b []byte, m Message) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	select {
	case <-c.done:
		return ErrClosed
	default:
	}
	_ = c.ws.SetWriteDeadline(time.Now().Add(WriteWait))
	if err := c.ws.WriteMessage(typ, b); err != nil {
		c.abort()
		return fmt.Errorf("send %s: %w", m.MessageType(), err)
	}
	return nil
}

// Ping sends a ping; the peer's pong extends the read deadline in Run.
func (c *Conn) Ping() error {
	if c.mem != nil {
		return c.pingMem()
	}
	err := c.ws.WriteControl(websocket.PingMessage, nil, time.Now().Add(WriteWait))
	if err != nil {
		c.abort()
	}
	return err
}

// Alive pings the peer and reports whether it answers within timeout: a
// peer that is gone, behind a connection that looks open, does not. Run
// (or Serve) must be reading. Only one Alive at a time.
func (c *Conn) Alive(timeout time.Duration) bool {
	if c.mem != nil {
		return c.pingMem() == nil
	}
	ch := make(chan struct{}, 1)
	c.pong.Store(&ch)
	defer c.pong.Store(nil)
	if c.Ping() != nil {
		return false
	}
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case <-ch:
		return true
	case <-c.done:
		return false
	case <-t.C:
		return false
	}
}

// Done is closed when the connection is closing.
func (c *Conn) Done() <-chan struct{} { return c.done }

// Close sends a close frame with code and reason and makes Run return
// shortly after (when the peer answers, or after half a second). It is safe
// to call more than once and from any goroutine.
func (c *Conn) Close(code int, reason string) {
	if c.mem != nil {
		c.closeMem(code, reason)
		return
	}
	c.closeOnce.Do(func() {
		if len(reason) > 120 { // control frames carry at most 125 bytes
			reason = reason[:120]
		}
		close(c.done)
		deadline := time.Now().Add(time.Second)
		_ = c.ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(code, reason), deadline)
		// Give the peer a moment to answer the close frame, then let a
		// blocked read return.
		_ = c.ws.SetReadDeadline(time.Now().Add(500 * time.Millisecond))
	})
}

// Abort ends the connection at once, without a close frame: for a peer
// that stopped answering, which would not answer one either.
func (c *Conn) Abort() { c.abort() }

// abort ends the connection without a close frame, after a failed write.
func (c *Conn) abort() {
	if c.mem != nil {
		c.closeMem(websocket.CloseAbnormalClosure, "")
		return
	}
	c.closeOnce.Do(func() {
		close(c.done)
		_ = c.ws.SetReadDeadline(time.Now())
	})
}

// Run reads messages and hands each to handle until the connection fails,
// the peer closes it, handle returns an error, Close is called, or ctx ends
// (then with a "going away" close frame). It owns the socket: when it
// returns, the socket is closed. A frame that does not decode closes the
// connection with a reason.
func (c *Conn) Run(ctx context.Context, handle func(Message) error) error {
	if c.mem != nil {
		return c.runMem(ctx, handle)
	}
	stop := c.begin(ctx)
	defer c.end(stop)
	for {
		if err := c.readOne(handle); err != nil {
			return err
		}
	}
}

// Serve is Run on goroutines of its own: it returns at once, and calls
// done with what Run returns once the connection has ended. On a
// connection from Accept over plain TCP, no goroutine waits while the
// peer is idle (frameConn.await): a goroutine starts when its next bytes
// come, reads messages only until the peer is idle again, and ends. Each
// of thousands of idle agents would otherwise keep a goroutine, and one
// parked deep in a read keeps a stack twice as large.
func (c *Conn) Serve(ctx context.Context, handle func(Message) error, done func(error)) {
	if c.fc == nil {
		go func() { done(c.Run(ctx, handle)) }()
		return
	}
	s := &serving{c: c, handle: handle, done: done, stop: c.begin(ctx)}
	s.woken = s.wake
	c.fc.await(s.woken)
}

// serving is a connection that Serve reads.
type serving struct {
	c      *Conn
	handle func(Message) error
	done   func(error)
	stop   func() bool
	woken  func(error) // wake, made once
}

// wake reads the peer's next bytes, on a goroutine started when they came
// (or the wait failed: then the read fails at once, as Run's would).
func (s *serving) wake(err error) {
	s.read(err != nil)
}

// read reads and handles messages until the peer has sent nothing more,
// then waits for its next bytes without a goroutine (frameConn.await); or
// until the connection ends.
func (s *serving) read(mustRead bool) {
	for {
		if !mustRead && s.c.fc.idle() {
			s.c.fc.await(s.woken)
			return
		}
		mustRead = false
		if err := s.c.readOne(s.handle); err != nil {
			s.c.end(s.stop)
			s.done(err)
			return
		}
	}
}

// begin starts reading: the deadline, the pong handler, and the close
// when ctx ends, which stop undoes.
func (c *Conn) begin(ctx context.Context) (stop func() bool) {
	stop = context.AfterFunc(ctx, func() { c.Close(websocket.CloseGoingAway, "shutting down") })
	_ = c.ws.SetReadDeadline(time.Now().Add(c.readWait))
	c.ws.SetPongHandler(func(string) error { return c.gotPong() })
	return stop
}

// end closes the connection once reading is over.
func (c *Conn) end(stop func() bool) {
	stop()
	c.Close(websocket.CloseNormalClosure, "")
	c.ws.Close()
}

// gotPong extends the read deadline, and tells Alive.
func (c *Conn) gotPong() error {
	if p := c.pong.Load(); p != nil {
		select {
		case *p <- struct{}{}:
		default:
		}
	}
	select {
	case <-c.done: // closing: keep the short deadline
		return nil
	default:
	}
	return c.ws.SetReadDeadline(time.Now().Add(c.readWait))
}

// answerPing answers a ping that the frameConn took. Like any write, one
// that fails ends the connection.
func (c *Conn) answerPing(payload []byte) {
	err := c.ws.WriteControl(websocket.PongMessage, payload, time.Now().Add(WriteWait))
	if err != nil && !errors.Is(err, websocket.ErrCloseSent) {
		c.abort()
	}
}

// readOne reads one message and hands it to handle. An error ends the
// connection.
func (c *Conn) readOne(handle func(Message) error) error {
	typ, b, err := c.ws.ReadMessage()
	if err != nil {
		select {
		case <-c.done:
			return ErrClosed
		default:
		}
		c.closeFor(err)
		return err
	}
	select {
	case <-c.done:
		// Closing: whatever still arrives is read only to reach the
		// peer's close frame.
		return nil
	default:
	}
	_ = c.ws.SetReadDeadline(time.Now().Add(c.readWait))
	if typ == websocket.BinaryMessage {
		if !c.binary.Load() {
			c.Close(websocket.CloseUnsupportedData, "binary frames were not agreed on")
			return fmt.Errorf("%w: binary frame before the handshake agreed on them", ErrMalformed)
		}
		msgs, err := DecodeBinary(b)
		if err != nil {
			c.Close(websocket.CloseInvalidFramePayloadData, err.Error())
			return err
		}
		for _, m := range msgs {
			if err := handle(m); err != nil {
				return err
			}
		}
		return nil
	}
	m, err := decodeAside(b)
	if err != nil {
		c.Close(websocket.CloseInvalidFramePayloadData, err.Error())
		return err
	}
	return handle(m)
}

// closeFor closes the connection after a failed read with a code and
// reason that say why, where the websocket.Conn sent no close frame itself:
// the peer fell silent past the read deadline (going away), or sent a frame
// whose length cannot be read (a 64-bit length with its top bit set, which
// RFC 6455 forbids: a protocol error). The websocket.Conn answers a frame
// over the read limit with 1009 itself; a close after it sends nothing.
// Other failures (the peer gone, its close frame) end with end's 1000.
func (c *Conn) closeFor(err error) {
	var ne net.Error
	switch {
	case errors.As(err, &ne) && ne.Timeout():
		c.Close(websocket.CloseGoingAway, fmt.Sprintf("no frames for %gs", c.readWait.Seconds()))
	case errors.Is(err, websocket.ErrReadLimit):
		c.Close(websocket.CloseProtocolError, "bad frame length")
	}
}

// decodeAside decodes a JSON frame on a short-lived goroutine. JSON
// decoding (reflection) goes deep enough to double the reader's stack, and
// a parked reader keeps what it grew to: for a relay with thousands of idle
// agents that was half its memory. JSON frames are the handshake and other
// rare messages; deliveries and acks are binary.
func decodeAside(b []byte) (Message, error) {
	type result struct {
		m   Message
		err error
	}
	ch := make(chan result, 1)
	go func() {
		m, err := Decode(b)
		ch <- result{m, err}
	}()
	r := <-ch
	return r.m, r.err
}
