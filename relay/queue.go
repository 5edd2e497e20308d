package relay

import "github.com/hooktap/hooktap/relay/wire"

// item is a delivery on its way to a session.
type item struct {
	d    *wire.Delivery
	ev   Event
	size int // wire.Size(d)
	// prev is the seq of the channel's delivery before d: a session that
	// has not sent it yet missed something.
	prev  int64
	reply string // where d's answer goes (Signals.Answer); "" on a single relay
	// commit is d's commit while it is on its way (a single relay's live
	// offer); nil once d is read back from the buffer or a cluster's stream.
	commit *commit
}

// publish queues d for every session of its channel. It reports how many
// sessions are connected, how many subscribe to d's event, and how many took
// it live (subscribed, and not behind); took must be woken (Publish).
func (s *Server) publish(d *wire.Delivery, ev Event, c *commit) (connected, matched, live int, took sessions) {
	return s.queueAll(item{d: d, ev: ev, size: wire.Size(d), prev: d.Seq - 1, commit: c})
}

// offerAll offers it to every session of its channel on this relay.
func (s *Server) offerAll(it item) {
	_, _, _, took := s.queueAll(it)
	took.wake()
}

// queueAll queues it for every session of its channel on this relay,
// without waking them: they are returned.
func (s *Server) queueAll(it item) (connected, matched, live int, took sessions) {
	d := it.d
	s.mu.Lock()
	defer s.mu.Unlock()
	ch := s.channels[d.Channel]
	if ch == nil {
		return 0, 0, 0, nil
	}
	took = make(sessions, 0, len(ch.sessions))
	for ss := range ch.sessions {
		connected++
		m, l := ss.offer(it)
		if m {
			matched++
		}
		if l {
			live++
		}
		took = append(took, ss)
	}
	return connected, matched, live, took
}

// sessions are sessions that were offered a delivery.
type sessions []*session

// wake makes each work through its queue.
func (ss sessions) wake() {
	for _, s := range ss {
		s.wake()
	}
}

// offer queues it without blocking; the caller wakes the session. It
// reports whether the session subscribes to it and whether it will send it
// now; a full queue makes the session catch up from the buffer instead.
func (ss *session) offer(it item) (match, live bool) {
	match = ss.filter.Match(it.ev)
	ss.qmu.Lock()
	if len(ss.queue) < ss.srv.cfg.Window && (len(ss.queue) == 0 || ss.queueBytes+it.size <= maxQueueBytes) {
		ss.queue = append(ss.queue, it)
		ss.queueBytes += it.size
		live = match
	} else {
		ss.kick.Store(true)
	}
	ss.qmu.Unlock()
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
		if it.prev > ss.sent() {
			// A gap: something did not fit in the queue. Everything up to
			// seq has its write on the way, and catchUp waits for it.
			if !ss.flush(ctx, &b) || !ss.catchUp(ctx) {
				return false
			}
			if seq <= ss.sent() {
				continue
			}
		}
		if !ss.send(ctx, it.d, it.ev, it.size, it.reply, it.commit, &b) {
			return false
		}
	}
}
