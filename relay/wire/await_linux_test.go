package wire

import (
	"context"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// waiting reports whether c waits for its peer with no goroutine of its own.
func waiting(c *Conn) bool {
	c.fc.poll.mu.Lock()
	defer c.fc.poll.mu.Unlock()
	return c.fc.poll.woken != nil
}

// servedIdle is a connection that Serve reads, once it waits idle.
func servedIdle(t *testing.T, ctx context.Context) (*Conn, net.Conn, chan Message, chan error) {
	t.Helper()
	c, _, raw := accepted(t, false)
	msgs := make(chan Message, 4)
	done := make(chan error, 1)
	c.Serve(ctx, func(m Message) error { msgs <- m; return nil }, func(err error) { done <- err })
	waitFor(t, func() bool { return waiting(c) })
	return c, raw, msgs, done
}

// waitFor polls cond, with a deadline: the wait has no signal to give.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); !cond(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("timed out")
		}
	}
}

// ended waits for Serve's end.
func ended(t *testing.T, done chan error) error {
	t.Helper()
	select {
	case err := <-done:
		return err
	case <-time.After(5 * time.Second):
		t.Fatal("Serve did not end")
		return nil
	}
}

// TestIdleWaitEnds: a connection that waits for its peer with no goroutine
// of its own still ends whatever ends it: a message (it reads it and waits
// again), Abort, Close to a silent peer, the relay shutting down, the
// peer's FIN or RST, and its read deadline.
func TestIdleWaitEnds(t *testing.T) {
	t.Run("messages", func(t *testing.T) {
		c, raw, msgs, _ := servedIdle(t, t.Context())
		for _, code := range []string{"one", "two"} {
			b, _ := Encode(&Error{Code: code})
			raw.Write(clientFrame(true, websocket.TextMessage, b, 0))
			if m := <-msgs; m.(*Error).Code != code {
				t.Fatalf("got %+v", m)
			}
			waitFor(t, func() bool { return waiting(c) })
		}
	})
	t.Run("abort", func(t *testing.T) {
		c, _, _, done := servedIdle(t, t.Context())
		c.Abort()
		if err := ended(t, done); !errors.Is(err, ErrClosed) {
			t.Fatalf("ended with %v, want ErrClosed", err)
		}
	})
	t.Run("close to a silent peer", func(t *testing.T) {
		c, raw, _, done := servedIdle(t, t.Context())
		start := time.Now()
		c.Close(websocket.CloseNormalClosure, "bye")
		readRaw(t, raw, append([]byte{0x88, 5, 0x03, 0xe8}, "bye"...))
		if err := ended(t, done); !errors.Is(err, ErrClosed) {
			t.Fatalf("ended with %v, want ErrClosed", err)
		}
		if d := time.Since(start); d < 400*time.Millisecond {
			t.Fatalf("ended %v after the close frame: the peer had half a second to answer", d)
		}
	})
	t.Run("shutting down", func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		_, raw, _, done := servedIdle(t, ctx)
		cancel()
		readRaw(t, raw, append([]byte{0x88, 15, 0x03, 0xe9}, "shutting down"...))
		raw.Write(clientFrame(true, websocket.CloseMessage, []byte{0x03, 0xe9}, 0))
		ended(t, done)
	})
	t.Run("peer FIN", func(t *testing.T) {
		_, raw, _, done := servedIdle(t, t.Context())
		raw.(*net.TCPConn).CloseWrite()
		if err := ended(t, done); err == nil {
			t.Fatal("ended with no error")
		}
	})
	t.Run("peer RST", func(t *testing.T) {
		_, raw, _, done := servedIdle(t, t.Context())
		raw.(*net.TCPConn).SetLinger(0)
		raw.Close()
		if err := ended(t, done); err == nil {
			t.Fatal("ended with no error")
		}
	})
	t.Run("deadline", func(t *testing.T) {
		c, _, _, done := servedIdle(t, t.Context())
		c.ws.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
		var ne net.Error
		if err := ended(t, done); !errors.As(err, &ne) || !ne.Timeout() {
			t.Fatalf("ended with %v, want a timeout", err)
		}
	})
	t.Run("deadline moved while waiting", func(t *testing.T) {
		c, raw, msgs, done := servedIdle(t, t.Context())
		c.ws.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
		c.ws.SetReadDeadline(time.Now().Add(time.Hour))
		time.Sleep(150 * time.Millisecond) // past the first deadline: nothing to signal that it did not end
		select {
		case err := <-done:
			t.Fatalf("ended with %v at a deadline that had moved", err)
		default:
		}
		b, _ := Encode(&Error{Code: "later"})
		raw.Write(clientFrame(true, websocket.TextMessage, b, 0))
		if m := <-msgs; m.(*Error).Code != "later" {
			t.Fatalf("got %+v", m)
		}
	})
}
