package relay

import (
	"context"

	"github.com/gorilla/websocket"

	"github.com/hooktap/hooktap/relay/payload"
	"github.com/hooktap/hooktap/relay/wire"
)

// pageLen bounds the deliveries one read of the buffer returns;
// catchUpBytes, their bytes.
const pageLen = 128

// catchUp sends everything in the buffer after sentSeq. It reports false when
// the session is over.
func (ss *session) catchUp(ctx context.Context) bool {
	buf := ss.srv.store
	return ss.fromBuffer(ctx, func() ([]*wire.Delivery, bool, error) {
		// Deliveries are published while they are being committed: wait
		// for those, or a gap could be read as the end.
		if err := buf.Settled(ctx, ss.channel); err != nil {
			return nil, false, err
		}
		return buf.After(ctx, ss.channel, ss.sent(), pageLen, catchUpBytes)
	}, func(d *wire.Delivery, b *batch) bool {
		// Only what existed when the agent connected may have reached it
		// before; later deliveries are new to it.
		d.Resumed = d.Seq <= ss.resumeTo
		return ss.send(ctx, d, EventOf(d.Fields), wire.Size(d), ss.srv.answerTo(d), nil, b)
	})
}

// adoptUnclaimed sends the unclaimed deliveries up to adoptThrough that
// the agent's filter matches and that no other connected agent is going to
// take, before anything else: what arrived while no agent subscribed to
// it, and what an agent had in flight when it left (or when the relay
// stopped), which agents past it would otherwise never see. It reports
// false when the session is over.
func (ss *session) adoptUnclaimed(ctx context.Context) bool {
	through := ss.adoptThrough.Load()
	var after int64
	// What it adopts, and has acked while this pass reads, may still be
	// read as unclaimed: it is kept until the pass ends.
	ss.mu.Lock()
	ss.adopted.begin()
	ss.mu.Unlock()
	defer func() {
		ss.mu.Lock()
		ss.adopted.end()
		ss.mu.Unlock()
	}()
	for {
		var ps []Pending
		var more bool
		err := onFreshStack(func() (err error) {
			ps, more, err = ss.srv.store.Unclaimed(ctx, ss.channel, after, through, adoptPage)
			return err
		})
		if err != nil {
			return ss.readFailed(ctx, err)
		}
		var seqs []int64
		for _, p := range ps {
			after = p.Seq
			if ss.wants(p) {
				seqs = append(seqs, p.Seq)
			}
		}
		if len(seqs) > 0 && !ss.sendUnclaimed(ctx, seqs) {
			return false
		}
		if !more {
			return true
		}
	}
}

// adoptPage bounds the unclaimed rows (a seq and an event each) read at once.
const adoptPage = 1000

// wants reports whether the session should take an unclaimed delivery: its
// filter matches, it has not sent it (it is not in flight, and the session
// has not passed it in channel order: then it sent it, and an ack may be on
// its way, acked after the unclaimed rows were read; nor has it adopted it
// before), and no other session is going to take it.
func (ss *session) wants(p Pending) bool {
	if !ss.filter.Match(p.Event) {
		return false
	}
	ss.mu.Lock()
	_, flying := ss.inflight[p.Seq]
	sent := flying || ss.adopted.has(p.Seq) || p.Seq > ss.start && p.Seq <= ss.sentSeq
	ss.mu.Unlock()
	return !sent && !ss.srv.owedElsewhere(ss, p)
}

// owedElsewhere reports whether a session of me's channel other than me
// has p in flight, or has not reached it yet and subscribes to its event.
func (s *Server) owedElsewhere(me *session, p Pending) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	ch := s.channels[me.channel]
	if ch == nil {
		return false
	}
	for o := range ch.sessions {
		if o == me {
			continue
		}
		o.mu.Lock()
		_, flying := o.inflight[p.Seq]
		ahead := o.sentSeq < p.Seq
		o.mu.Unlock()
		if flying || ahead && o.filter.Match(p.Event) {
			return true
		}
	}
	return false
}

// sendUnclaimed reads the deliveries seqs from the buffer, a page at a
// time, and sends them, marked resumed (the agent may have had them
// before). It reports false when the session is over.
func (ss *session) sendUnclaimed(ctx context.Context, seqs []int64) bool {
	for len(seqs) > 0 {
		release, err := ss.srv.bodies.reading(ctx)
		if err != nil {
			return false
		}
		var ds []*wire.Delivery
		err = onFreshStack(func() (err error) {
			ds, seqs, err = ss.srv.store.Deliveries(ctx, ss.channel, seqs, catchUpBytes)
			return err
		})
		if err != nil {
			release()
			return ss.readFailed(ctx, err)
		}
		var b batch
		ok := true
		for _, d := range ds {
			f := payload.Parse(d.Header, d.Body)
			d.Fields, d.Resumed = &f, true
			if ok = ss.enqueue(ctx, d, flight{d.ID, wire.Size(d), ss.srv.answerTo(d), EventOf(&f)}, nil, &b, false); !ok {
				break
			}
		}
		ok = ok && ss.flush(ctx, &b)
		b.reset()
		release()
		if !ok {
			return false
		}
	}
	return true
}

// readFailed ends the session after a failed read of the buffer. It
// reports false (the session is over).
func (ss *session) readFailed(ctx context.Context, err error) bool {
	if ctx.Err() == nil {
		ss.srv.log.Error("read buffer", "channel", ss.channel, "err", err)
		ss.conn.Close(websocket.CloseInternalServerErr, "relay storage error")
	}
	return false
}

// offerLeftovers has the sessions of channel take what an agent that left
// had in flight or had not been sent yet, if their filter matches and they
// are past it (those behind it get it in channel order).
func (s *Server) offerLeftovers(channel string) {
	if s.ctx.Err() != nil {
		return // the relay is stopping: they get it when they are back
	}
	s.mu.Lock()
	var others []*session
	if ch := s.channels[channel]; ch != nil {
		for o := range ch.sessions {
			others = append(others, o)
		}
	}
	s.mu.Unlock()
	for _, o := range others {
		o.requestAdopt(o.sent())
	}
}

// requestAdopt has the session adopt the unclaimed deliveries up to through.
func (ss *session) requestAdopt(through int64) {
	for {
		cur := ss.adoptThrough.Load()
		if through <= cur || ss.adoptThrough.CompareAndSwap(cur, through) {
			break
		}
	}
	ss.adopt.Store(true)
	ss.wake()
}

// fromBuffer reads pages of deliveries with read until it reports no
// more, and hands each delivery, its fields parsed, to each. What each
// puts in the batch is written at the end of every page. It reports false
// when the session is over.
func (ss *session) fromBuffer(ctx context.Context, read func() ([]*wire.Delivery, bool, error), each func(*wire.Delivery, *batch) bool) bool {
	var b batch
	defer b.reset()
	for {
		release, err := ss.srv.bodies.reading(ctx)
		if err != nil {
			return false
		}
		var ds []*wire.Delivery
		var more bool
		err = onFreshStack(func() (err error) {
			ds, more, err = read()
			return err
		})
		if err != nil {
			release()
			return ss.readFailed(ctx, err)
		}
		ok := true
		for _, d := range ds {
			f := payload.Parse(d.Header, d.Body)
			d.Fields = &f
			if ok = each(d, &b); !ok {
				break
			}
		}
		ok = ok && ss.flush(ctx, &b)
		release()
		if !ok {
			return false
		}
		if !more {
			return true
		}
	}
}
