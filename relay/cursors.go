package relay

import "time"

// cursorMoved marks a session whose cursor must be saved, and, when
// claimed, a delivery it acked that may be marked unclaimed. Both are
// written in batches, cursorFlush after the first one: losing the last
// ones in a crash only means redelivering what agents recognise by id. An
// idle relay schedules nothing, so it never wakes up for this.
func (s *Server) cursorMoved(ss *session, claimed bool, seq int64) {
	s.dirtyMu.Lock()
	first := len(s.dirty) == 0 && len(s.claims) == 0
	s.dirty[ss] = struct{}{}
	if claimed {
		s.claims = append(s.claims, Claim{Channel: ss.channel, Seq: seq})
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

// flushCursors saves the cursors that moved since the last flush.
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
	s.buf.SetCursors(cs, claims)
}

// saveLeaving saves where a session that ends stopped, now, so that a
// quick reconnect resumes there. What it had in flight, and what it had
// not been sent yet, it leaves unclaimed: for the next agent whose filter
// matches, if it is gone for good (it gets them again itself when it comes
// back).
func (s *Server) saveLeaving(ss *session) {
	s.dirtyMu.Lock()
	delete(s.dirty, ss)
	s.dirtyMu.Unlock()
	ss.mu.Lock()
	c := Cursor{Channel: ss.channel, AgentID: ss.agentID, Seq: ss.cursor}
	flying := make([]int64, 0, len(ss.inflight))
	for seq := range ss.inflight {
		flying = append(flying, seq)
	}
	sent := ss.sentSeq
	ss.mu.Unlock()
	head, _ := s.buf.Head(s.ctx, ss.channel)
	s.buf.MarkUnclaimed(ss.channel, flying, sent, head)
	select {
	case <-s.buf.SetCursors([]Cursor{c}, nil): // committed after the marks
	case <-time.After(5 * time.Second):
	}
}
