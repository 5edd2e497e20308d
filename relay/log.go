package relay

import (
	"context"
	"time"

	"github.com/hooktap/hooktap/relay/wire"
)

// The relay's state sits behind three small interfaces, which one value
// implements: Buffer (SQLite, one relay process) or streamLog (JetStream,
// relay nodes in a cluster). One conformance suite runs against both
// (log_test.go).

// Publish offers a delivery to this node's agents while Log.Append stores
// it. It reports whether no connected agent subscribes to it, and returns
// send (nil: nothing to do), which Append calls once the delivery's write is
// on its way: it sets the sessions that took it going. In that order, a
// lone delivery goes to its agent while its commit waits its turn: a
// session woken first would wait behind the commit on a busy machine (Go
// runs the goroutine woken last first), 75 µs of a delivery's trip here.
type Publish func() (unmatched bool, send func())

// Log keeps every channel's deliveries in order, each with a seq that
// grows per channel (not necessarily by one), until its retention ends.
type Log interface {
	// Append gives d its channel's next seq and returns once d is durable.
	// publish, if not nil, is called once before that (the single relay
	// calls it as soon as d has its seq, so that agents get d while it is
	// being committed); when it reports that no connected agent subscribes
	// to d, d is kept unclaimed (Claims).
	Append(ctx context.Context, d *wire.Delivery, publish Publish) error
	// Forget removes one delivery (its sender was told to retry).
	Forget(channel string, seq int64)
	// Head is the newest seq of channel (0 when empty).
	Head(ctx context.Context, channel string) (int64, error)
	// Settled waits until After finds every delivery of channel appended so far.
	Settled(ctx context.Context, channel string) error
	// After returns up to limit deliveries of channel with seq > after, in
	// order, and no more than about maxBytes (at least one); more reports
	// whether it stopped at a bound rather than at the end.
	After(ctx context.Context, channel string, after int64, limit, maxBytes int) (ds []*wire.Delivery, more bool, err error)
	// Deliveries returns those of seqs still kept, in order, up to about
	// maxBytes (at least one); rest is what it did not read.
	Deliveries(ctx context.Context, channel string, seqs []int64, maxBytes int) (ds []*wire.Delivery, rest []int64, err error)
	// Prune applies the retention: deliveries received before cutoff and,
	// per channel, all but the newest max go, and the cursors of agents
	// idle since cutoff with nothing left (unless connected). A log whose
	// engine applies the retention itself reports 0.
	Prune(ctx context.Context, cutoff time.Time, max int, connected func(channel, agentID string) bool) (int64, error)
	// Depth is the number of deliveries kept per channel.
	Depth(ctx context.Context) (map[string]int64, error)
	Close() error
}

// Cursors remembers how far each agent has acknowledged its channel, and
// the key its id is bound to.
type Cursors interface {
	// Bind returns the seq after which agentID resumes on channel: its
	// cursor, or for a new agent the furthest any agent of the channel has
	// acknowledged. The id is bound to keyHash on first use; an id bound to
	// another key gets ErrAgentTaken.
	Bind(ctx context.Context, channel, agentID, keyHash string) (int64, error)
	// SetCursors saves agents' positions (they only move forward); the
	// channel reports the write. A lost update only means a redelivery.
	SetCursors(cs []Cursor) <-chan error
}

// Claims keeps the deliveries no agent has acknowledged, which go to the
// next agent whose filter matches (catchup.go adoptUnclaimed).
type Claims interface {
	// Claim records an agent's ack of (channel, seq).
	Claim(channel string, seq int64)
	// Unclaim records deliveries an agent had in flight when it left.
	Unclaim(channel string, ps []Pending)
	// Unclaimed returns up to limit unclaimed deliveries of channel with
	// after < seq <= through, in order; more reports whether there may be
	// others after them.
	Unclaimed(ctx context.Context, channel string, after, through int64, limit int) (ps []Pending, more bool, err error)
	// FlushClaims writes what waits, of deliveries unclaimed for at least
	// minAge; ClaimsPending reports whether something waits.
	FlushClaims(minAge time.Duration) <-chan error
	ClaimsPending() bool
}

// Storage is all of a relay's durable state but the channel registry.
type Storage interface {
	Log
	Cursors
	Claims
}

var _ Storage = (*Buffer)(nil)

// Signals is what relay nodes tell each other; a single relay has none
// (nil): its sessions, answers and presence live in its own memory. The
// live fan-out comes with them: every node offers each delivery to its
// own sessions (Server.publish), whichever node took it in.
type Signals interface {
	// Reach counts the agents connected to channel on every node, and
	// those of them whose filter matches ev.
	Reach(channel string, ev Event) (connected, matched int)
	// Join announces an agent connected to this node, run instance (the
	// hello's), unless another run of it is connected to another node and
	// answers a ping there: then taken, and nothing is announced.
	// replaced is called when a newer connection of the same agent opens
	// on another node (the newest connection wins); leave withdraws the
	// announcement.
	Join(channel, agentID, instance string, f Filter, replaced func()) (leave func(), taken bool)
	// Agents lists the filters of the agents connected to channel on every
	// node, by agent id.
	Agents(channel string) map[string]Filter
	// Answer passes an agent's answer to the node whose sender waits for
	// it: reply names it (the delivery's Hooktap-Reply), or "" when
	// unknown (every node hears it).
	Answer(reply string, a *wire.Ack)
	// Release tells that node that no answer for delivery id is coming.
	Release(reply, id string)
	Close() error
}
