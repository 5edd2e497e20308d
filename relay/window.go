package relay

import (
	"context"

	"github.com/hooktap/hooktap/relay/wire"
)

// flight is a delivery sent to the agent and not yet acked.
type flight struct {
	id    string
	size  int
	reply string // where its answer goes (item.reply)
	ev    Event  // unclaimed again if the agent leaves without acking it
}

// sent is the last seq sent or skipped, in channel order.
func (ss *session) sent() int64 {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	return ss.sentSeq
}

// reserve waits for room for d in the window and puts it in flight,
// unless its commit c has failed by then (taken false: d is passed over).
// While it waits, what b holds is written, so that acks can come. ok is
// false when the session is over.
func (ss *session) reserve(ctx context.Context, d *wire.Delivery, f flight, c *commit, b *batch, next bool) (taken, ok bool) {
	size := f.size
	for {
		ss.mu.Lock()
		n := len(ss.inflight)
		if n < ss.srv.cfg.Window && (n == 0 || ss.inflightBytes+size <= maxWindowBytes) {
			if !c.take() {
				ss.mu.Unlock()
				if next {
					ss.skip(d.Seq)
				}
				return false, true
			}
			if next {
				ss.sentSeq = d.Seq
			} else if d.Seq <= ss.start {
				ss.adopted.add(d.Seq)
			}
			ss.inflight[d.Seq] = f
			ss.inflightBytes += size
			ss.mu.Unlock()
			return true, true
		}
		ss.mu.Unlock()
		if !ss.flush(ctx, b) {
			return false, false
		}
		select {
		case <-ss.room:
		case <-ss.conn.Done():
			return false, false
		case <-ctx.Done():
			return false, false
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
	ss.advance()
	ss.mu.Unlock()
	select {
	case ss.room <- struct{}{}:
	default:
	}
	if ss.srv.signals != nil {
		ss.srv.signals.Answer(f.reply, a) // the sender may wait on another node
	} else {
		ss.srv.resolve(a)
	}
	ss.srv.cursorMoved(ss, a.Seq) // the cursor, and the delivery is claimed
	if a.Seq <= ss.start {
		// Claimed: an adoption that begins from now on does not read it.
		ss.mu.Lock()
		ss.adopted.acked(a.Seq)
		ss.mu.Unlock()
	}
}
