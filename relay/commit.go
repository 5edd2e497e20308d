package relay

import (
	"context"
	"sync/atomic"
	"time"
)

// commit is what a single relay's sessions and the sender's request share
// about a delivery offered live while the buffer commits it (accept). A
// session sends it only until the commit has failed: after that it is
// withdrawn, since the sender is told to retry and the retry is the copy
// that counts. The request learns how many sessions sent it before then:
// their agents' answers are the truth to tell.
type commit struct {
	state atomic.Int64  // commitDone, commitFailed, and the senders << 2
	done  chan struct{} // closed once the commit is over
}

const (
	commitDone   = 1
	commitFailed = 2
	commitSender = 4
)

func newCommit() *commit { return &commit{done: make(chan struct{})} }

// take reports whether a session may send the delivery (a nil commit: one
// read from the buffer, committed); false once its commit has failed.
func (c *commit) take() bool {
	if c == nil {
		return true
	}
	for {
		v := c.state.Load()
		switch {
		case v&commitFailed != 0:
			return false
		case v&commitDone != 0:
			return true
		case c.state.CompareAndSwap(v, v+commitSender):
			return true
		}
	}
}

// settle ends the commit with its error. It reports how many sessions
// sent the delivery before it failed.
func (c *commit) settle(err error) (senders int) {
	bit := int64(commitDone)
	if err != nil {
		bit = commitFailed
	}
	v := c.state.Or(bit)
	close(c.done)
	return int(v / commitSender)
}

// pending reports whether the commit is still on its way.
func (c *commit) pending() bool {
	return c != nil && c.state.Load()&(commitDone|commitFailed) == 0
}

// wait waits for the commit to end; false when ctx or the session ends
// first.
func (c *commit) wait(ctx context.Context, ss *session) bool {
	select {
	case <-c.done:
		return true
	case <-ss.conn.Done():
	case <-ctx.Done():
	}
	return false
}

// holdFor is how long after a failed commit the relay sends deliveries to
// agents only once they are committed. Sending while committing saves the
// agent's round trip on the happy path; while the disk fails, it would
// make every delivery whose commit fails wait for an agent's answer
// (queued behind the app's slow ones, or lost with a dropped connection)
// instead of a prompt 503.
const holdFor = time.Minute

// hold makes sessions wait for commits, from now until holdFor.
func (s *Server) hold() {
	s.holdUntil.Store(time.Now().Add(holdFor).UnixNano())
}

// holding reports whether sessions wait for commits.
func (s *Server) holding() bool {
	until := s.holdUntil.Load()
	return until != 0 && time.Now().UnixNano() < until
}
