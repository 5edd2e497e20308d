package relay

import "time"

// cursorMoved marks a session whose cursor must be saved and, when seq is
// not 0, records its ack of that delivery (a claim). Both are written in
// batches, cursorFlush after the first one: losing the last ones in a
// crash only means redelivering what agents recognise by id. An idle relay
// schedules nothing, so it never wakes up for this.
func (s *Server) cursorMoved(ss *session, seq int64) {
	if seq != 0 {
		s.store.Claim(ss.channel, seq)
	}
	s.dirtyMu.Lock()
	s.dirty[ss] = struct{}{}
	s.dirtyMu.Unlock()
	s.scheduleFlush()
}

const cursorFlush = 50 * time.Millisecond

// scheduleFlush has flushCursors run cursorFlush from now, unless it is
// scheduled already.
func (s *Server) scheduleFlush() {
	if !s.flushing.CompareAndSwap(false, true) {
		return
	}
	time.AfterFunc(cursorFlush, func() {
		s.flushing.Store(false)
		if s.ctx.Err() == nil {
			s.flushCursors()
		}
	})
}

// flushCursors saves the cursors that moved and the claims made since the
// last flush, and writes the deliveries that have stayed unclaimed for
// claimsAge (claims.go).
func (s *Server) flushCursors() {
	s.dirtyMu.Lock()
	dirty := s.dirty
	s.dirty = map[*session]struct{}{}
	s.dirtyMu.Unlock()
	if len(dirty) > 0 {
		cs := make([]Cursor, 0, len(dirty))
		for ss := range dirty {
			ss.mu.Lock()
			cs = append(cs, Cursor{Channel: ss.channel, AgentID: ss.agentID, Seq: ss.cursor})
			ss.mu.Unlock()
		}
		s.store.SetCursors(cs)
	}
	s.store.FlushClaims(claimsAge)
	if s.store.ClaimsPending() {
		s.scheduleFlush() // the younger ones, next time
	}
}

// saveLeaving saves where a session that ends stopped, now, so that a
// quick reconnect resumes there.
func (s *Server) saveLeaving(ss *session) {
	s.dirtyMu.Lock()
	delete(s.dirty, ss)
	s.dirtyMu.Unlock()
	ss.mu.Lock()
	c := Cursor{Channel: ss.channel, AgentID: ss.agentID, Seq: ss.cursor}
	ss.mu.Unlock()
	select {
	case <-s.store.SetCursors([]Cursor{c}):
	case <-time.After(5 * time.Second):
	}
}
