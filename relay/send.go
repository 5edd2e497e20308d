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
// written. c is d's commit while it is on its way: while the relay's disk
// fails (holding), d waits for it. It reports false when the session is
// over.
func (ss *session) send(ctx context.Context, d *wire.Delivery, ev Event, size int, reply string, c *commit, b *batch) bool {
	if !ss.filter.Match(ev) {
		ss.skip(d.Seq)
		return true
	}
	if c.pending() && ss.srv.holding() && (!ss.flush(ctx, b) || !c.wait(ctx, ss)) {
		return false
	}
	return ss.enqueue(ctx, d, flight{d.ID, size, reply, ev}, c, b, true)
}

// skip passes over seq, in channel order, without sending it.
func (ss *session) skip(seq int64) {
	ss.mu.Lock()
	ss.sentSeq = seq
	moved := ss.advance()
	ss.mu.Unlock()
	if moved {
		ss.srv.cursorMoved(ss, 0)
	}
}

// enqueue puts d in flight and in b, once there is room in the window,
// unless its commit c has failed by then; in channel order (next) it moves
// sentSeq, else (an older unclaimed delivery) it does not. It reports false
// when the session is over.
func (ss *session) enqueue(ctx context.Context, d *wire.Delivery, f flight, c *commit, b *batch, next bool) bool {
	size := f.size
	taken, ok := ss.reserve(ctx, d, f, c, b, next)
	if !taken {
		return ok // its commit failed: withdrawn
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
