package wire

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

// Timing and size limits of a connection. Both ends use the same values.
const (
	WriteWait    = 10 * time.Second
	PongWait     = 60 * time.Second
	PingPeriod   = PongWait * 9 / 10
	MaxFrameSize = 8 << 20 // a 5 MiB body base64-encoded, plus headers
	sendQueueLen = 16
)

// ErrClosed is returned by Send once the connection is closed.
var ErrClosed = errors.New("connection closed")

// CloseError is what Run returns when the peer closed the connection with a
// close frame; Code and Text are the peer's.
type CloseError = websocket.CloseError

// Conn runs one WebSocket with exactly one reader (Run) and one writer (a
// goroutine started by Run). Every outgoing message goes through Send.
type Conn struct {
	ws   *websocket.Conn
	send chan []byte
	done chan struct{}

	closeOnce sync.Once
	closeMsg  []byte
}

// NewConn wraps ws. The read limit is applied here.
func NewConn(ws *websocket.Conn) *Conn {
	ws.SetReadLimit(MaxFrameSize)
	return &Conn{
		ws:   ws,
		send: make(chan []byte, sendQueueLen),
		done: make(chan struct{}),
	}
}

// Send queues m for the writer. It blocks while the queue is full, until ctx
// ends or the connection closes.
func (c *Conn) Send(ctx context.Context, m Message) error {
	b, err := Encode(m)
	if err != nil {
		return err
	}
	select {
	case c.send <- b:
		return nil
	case <-c.done:
		return ErrClosed
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Done is closed when the connection is closing.
func (c *Conn) Done() <-chan struct{} { return c.done }

// Close starts closing the connection: the writer sends a close frame with
// code and reason, and Run returns. It is safe to call more than once.
func (c *Conn) Close(code int, reason string) {
	c.closeOnce.Do(func() {
		if len(reason) > 120 { // control frames carry at most 125 bytes
			reason = reason[:120]
		}
		c.closeMsg = websocket.FormatCloseMessage(code, reason)
		close(c.done)
	})
}

// Run reads messages and hands each to handle until the connection fails,
// the peer closes it, handle returns an error, or Close is called. It owns
// the socket: when it returns, the socket is closed. A frame that does not
// decode closes the connection with a reason.
func (c *Conn) Run(ctx context.Context, handle func(Message) error) error {
	writerDone := make(chan struct{})
	go func() {
		defer close(writerDone)
		c.writeLoop(ctx)
	}()
	defer func() {
		c.Close(websocket.CloseNormalClosure, "")
		<-writerDone
		c.ws.Close()
	}()

	_ = c.ws.SetReadDeadline(time.Now().Add(PongWait))
	c.ws.SetPongHandler(func(string) error {
		return c.ws.SetReadDeadline(time.Now().Add(PongWait))
	})
	for {
		typ, b, err := c.ws.ReadMessage()
		if err != nil {
			select {
			case <-c.done:
				return ErrClosed
			default:
			}
			return err
		}
		_ = c.ws.SetReadDeadline(time.Now().Add(PongWait))
		if typ != websocket.TextMessage {
			c.Close(websocket.CloseUnsupportedData, "text frames only")
			return fmt.Errorf("%w: binary frame", ErrMalformed)
		}
		m, err := Decode(b)
		if err != nil {
			c.Close(websocket.CloseInvalidFramePayloadData, err.Error())
			return err
		}
		if err := handle(m); err != nil {
			return err
		}
	}
}

func (c *Conn) writeLoop(ctx context.Context) {
	ping := time.NewTicker(PingPeriod)
	defer ping.Stop()
	for {
		select {
		case b := <-c.send:
			_ = c.ws.SetWriteDeadline(time.Now().Add(WriteWait))
			if err := c.ws.WriteMessage(websocket.TextMessage, b); err != nil {
				c.Close(websocket.CloseAbnormalClosure, "")
				c.ws.Close() // unblock the reader
				return
			}
		case <-ping.C:
			if err := c.ws.WriteControl(websocket.PingMessage, nil, time.Now().Add(WriteWait)); err != nil {
				c.Close(websocket.CloseAbnormalClosure, "")
				c.ws.Close()
				return
			}
		case <-ctx.Done():
			c.Close(websocket.CloseGoingAway, "shutting down")
			c.sendClose()
			return
		case <-c.done:
			c.sendClose()
			return
		}
	}
}

// sendClose flushes what is queued (best effort, bounded by the write
// deadline), writes the close frame and unblocks the reader.
func (c *Conn) sendClose() {
	deadline := time.Now().Add(time.Second)
	_ = c.ws.SetWriteDeadline(deadline)
drain:
	for {
		select {
		case b := <-c.send:
			if c.ws.WriteMessage(websocket.TextMessage, b) != nil {
				break drain
			}
		default:
			break drain
		}
	}
	if c.closeMsg != nil {
		_ = c.ws.WriteControl(websocket.CloseMessage, c.closeMsg, deadline)
	}
	// Give the peer a moment to answer the close frame, then drop the
	// socket so a blocked ReadMessage returns.
	_ = c.ws.SetReadDeadline(time.Now().Add(500 * time.Millisecond))
}
