package relay

import "time"

// cursorMoved marks a session whose cursor must be saved and, when seq is
// not 0, a delivery it acked, whose unclaimed row goes. Both are written
// in batches, cursorFlush after the first one: losing the last ones in a
// crash only means redelivering what agents recognise by id. An idle relay
// schedules nothing, so it never wakes up for this.
func (s *Server) cursorMoved(ss *session, seq int64) {
	s.dirtyMu.Lock()
	first := len(s.dirty) == 0 && len(s.claims) == 0
	s.dirty[ss] = struct{}{}
	if seq != 0 {
		c := Claim{Channel: ss.channel, Seq: seq}
		s.claims = append(s.claims, c)
		s.claiming[c] = struct{}{}
	}
	s.dirtyMu.Unlock()
	if first {
		time.AfterFunc(cursorFlush, func() {
			if s.ctx.Err() == nil {
				s.flushCursors()
			}
		})
	}
}

const cursorFlush = 50 * time.Millisecond

// flushCursors saves the cursors that moved and the claims made since the
// last flush.
func (s *Server) flushCursors() {
	s.dirtyMu.Lock()
	dirty, claims := s.dirty, s.claims
	s.dirty, s.claims = map[*session]struct{}{}, nil
	s.dirtyMu.Unlock()
	if len(dirty) == 0 && len(claims) == 0 {
		return
	}
	cs := make([]Cursor, 0, len(dirty))
	for ss := range dirty {
		ss.mu.Lock()
		cs = append(cs, Cursor{Channel: ss.channel, AgentID: ss.agentID, Seq: ss.cursor})
		ss.mu.Unlock()
	}
	done := s.buf.SetCursors(cs, claims)
	if len(claims) > 0 {
		go func() {
			<-done
			s.dirtyMu.Lock()
			for _, c := range claims {
				delete(s.claiming, c)
			}
			s.dirtyMu.Unlock()
		}()
	}
}

// beingClaimed reports whether an ack of (channel, seq) is on its way to
// the buffer: the delivery is claimed though its row is still there.
func (s *Server) beingClaimed(channel string, seq int64) bool {
	s.dirtyMu.Lock()
	defer s.dirtyMu.Unlock()
	_, ok := s.claiming[Claim{Channel: channel, Seq: seq}]
	return ok
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
	case <-s.buf.SetCursors([]Cursor{c}, nil):
	case <-time.After(5 * time.Second):
	}
}
