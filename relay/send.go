package relay

import (
	"context"

	"github.com/hooktap/hooktap/relay/wire"
)

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

// send adds d (of size bytes) to b if the agent's filter matches, once
// there is room for it in the window; while it waits, what b holds is
// written. It reports false when the session is over.
func (ss *session) send(ctx context.Context, d *wire.Delivery, ev Event, size int, reply string, b *batch) bool {
	if !ss.filter.Match(ev) {
		ss.mu.Lock()
		ss.sentSeq = d.Seq
		moved := ss.advance()
		ss.mu.Unlock()
		if moved {
			ss.srv.cursorMoved(ss, 0)
		}
		return true
	}
	return ss.enqueue(ctx, d, flight{d.ID, size, reply, ev}, b, true)
}

// enqueue puts d in flight and in b, once there is room in the window;
// in channel order (next) it moves sentSeq, else (an older unclaimed
// delivery) it does not. It reports false when the session is over.
func (ss *session) enqueue(ctx context.Context, d *wire.Delivery, f flight, b *batch, next bool) bool {
	size := f.size
	if !ss.reserve(ctx, d, f, b, next) {
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
