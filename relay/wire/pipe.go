package wire

import (
	"context"
	"errors"
	"time"

	"github.com/gorilla/websocket"
)

// Pipe returns the two ends of a connection held in memory, for a relay and
// an agent in one process (hooktap dev): messages are handed over as they
// are, with no socket, no frames and no encoding. Each end is used as a
// WebSocket's is: Run reads, Send and SendAll write, Close ends both (the
// other end's Run returns a *websocket.CloseError with the code and
// reason). Messages are shared, not copied: neither side may change one it
// sent or received.
func Pipe() (*Conn, *Conn) {
	a := &Conn{done: make(chan struct{}), mem: &memEnd{inbox: make(chan []Message, pipeDepth)}}
	b := &Conn{done: make(chan struct{}), mem: &memEnd{inbox: make(chan []Message, pipeDepth)}}
	a.mem.peer, b.mem.peer = b, a
	return a, b
}

// pipeDepth is how many writes an end holds unread before a writer waits.
const pipeDepth = 64

// memEnd is one end of a Pipe.
type memEnd struct {
	inbox chan []Message // what the peer sent, for Run
	peer  *Conn
	// Why this end closed, for the peer's Run; set before done closes.
	code   int
	reason string
}

var errPipeStalled = errors.New("the other end stopped reading")

// sendMem hands msgs to the peer's Run. Like a socket's write, one that
// cannot go within WriteWait ends the connection.
func (c *Conn) sendMem(ctx context.Context, msgs []Message) error {
	out := append([]Message(nil), msgs...) // callers reuse their slices
	peer := c.mem.peer
	select {
	case <-c.done:
		return ErrClosed
	case <-peer.done:
		return ErrClosed
	default:
	}
	select {
	case peer.mem.inbox <- out:
		return nil
	default:
	}
	t := time.NewTimer(WriteWait)
	defer t.Stop()
	select {
	case peer.mem.inbox <- out:
		return nil
	case <-c.done:
		return ErrClosed
	case <-peer.done:
		return ErrClosed
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		c.abort()
		return errPipeStalled
	}
}

// closeMem ends this end; the peer's Run returns with code and reason.
func (c *Conn) closeMem(code int, reason string) {
	c.closeOnce.Do(func() {
		c.mem.code, c.mem.reason = code, reason
		close(c.done)
	})
}

// runMem is Run for a Pipe's end.
func (c *Conn) runMem(ctx context.Context, handle func(Message) error) error {
	stop := context.AfterFunc(ctx, func() { c.Close(websocket.CloseGoingAway, "shutting down") })
	defer func() {
		stop()
		c.Close(websocket.CloseNormalClosure, "")
	}()
	peer := c.mem.peer
	for {
		select {
		case msgs := <-c.mem.inbox:
			if err := handleAll(msgs, handle); err != nil {
				return err
			}
		case <-c.done:
			return ErrClosed
		case <-peer.done:
			// What the peer sent before it closed is read first, as its
			// close frame would come after it on a socket.
			if err := c.drainMem(handle); err != nil {
				return err
			}
			code := peer.mem.code
			if code == 0 {
				code = websocket.CloseAbnormalClosure
			}
			return &websocket.CloseError{Code: code, Text: peer.mem.reason}
		}
	}
}

// drainMem handles what the inbox holds now.
func (c *Conn) drainMem(handle func(Message) error) error {
	for {
		select {
		case msgs := <-c.mem.inbox:
			if err := handleAll(msgs, handle); err != nil {
				return err
			}
		default:
			return nil
		}
	}
}

func handleAll(msgs []Message, handle func(Message) error) error {
	for _, m := range msgs {
		if err := handle(m); err != nil {
			return err
		}
	}
	return nil
}

// pingMem answers for the peer: it is there until either end closes.
func (c *Conn) pingMem() error {
	select {
	case <-c.done:
		return ErrClosed
	case <-c.mem.peer.done:
		return ErrClosed
	default:
		return nil
	}
}
