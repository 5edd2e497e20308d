package agent

import (
	"context"
	"sync"
	"sync/atomic"

	"github.com/hooktap/hooktap/inspector/store"
	"github.com/hooktap/hooktap/relay/wire"
)

// ackSlack is room kept in a frame beside an ack's estimated size.
const ackSlack = 64 << 10

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
		// nothing: it gets the status and headers (or the status alone),
		// and the store keeps the whole answer.
		ack.Body = nil
		if int64(wire.Size(ack)) > k.limit-ackSlack {
			ack.Header = nil
		}
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
