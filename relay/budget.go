package relay

import (
	"context"
	"sync"

	"golang.org/x/sync/semaphore"
)

// Memory bounds. A relay holds a delivery's body in memory from the moment
// it starts reading it until the buffer has committed it; after that, only
// the live queues of agents hold it (at most maxQueueBytes each), and a
// frame on its way. The rest waits on disk, in the buffer.
const (
	// bodyBudget bounds the bodies being read or committed, relay-wide;
	// channelBodyBudget, those of one channel, so that one busy channel
	// (or one slow uploader) cannot take all of it.
	bodyBudget        = 128 << 20
	channelBodyBudget = 48 << 20
	// maxQueueBytes bounds an agent's live queue; beyond it, the agent
	// catches up from the buffer.
	maxQueueBytes = 8 << 20
	// maxWindowBytes bounds the bytes in flight to one agent (sent, not yet
	// acked), beside the window's count; one delivery always fits.
	maxWindowBytes = 32 << 20
	// catchUpBytes bounds one page read from the buffer.
	catchUpBytes = 8 << 20
)

// budgets hands out room for request bodies: from the relay's budget and
// from the channel's. A request takes room for its declared length (or the
// largest body, when it declares none) before its body is read.
type budgets struct {
	all *semaphore.Weighted
	max int64 // the largest room one request takes

	mu  sync.Mutex
	per map[string]*channelBudget
}

type channelBudget struct {
	sem   *semaphore.Weighted
	users int // requests holding or waiting for room; the entry goes at 0
}

func newBudgets(maxBody int64) *budgets {
	total := max(bodyBudget, 2*maxBody)
	return &budgets{all: semaphore.NewWeighted(total), max: maxBody, per: map[string]*channelBudget{}}
}

// channelRoom is what one channel may hold: enough for the largest body.
func (b *budgets) channelRoom() int64 { return max(channelBodyBudget, b.max) }

// acquire waits for n bytes of room for channel (n <= 0: the largest body)
// and returns a function that gives back the part of it not kept, given
// how much was kept: release(0) gives back everything. It fails only when
// ctx ends first.
func (b *budgets) acquire(ctx context.Context, channel string, n int64) (release func(keep int64), err error) {
	if n <= 0 || n > b.max {
		n = b.max
	}
	b.mu.Lock()
	cb := b.per[channel]
	if cb == nil {
		cb = &channelBudget{sem: semaphore.NewWeighted(b.channelRoom())}
		b.per[channel] = cb
	}
	cb.users++
	b.mu.Unlock()
	done := func() {
		b.mu.Lock()
		if cb.users--; cb.users == 0 {
			delete(b.per, channel)
		}
		b.mu.Unlock()
	}
	if err := cb.sem.Acquire(ctx, n); err != nil {
		done()
		return nil, err
	}
	if err := b.all.Acquire(ctx, n); err != nil {
		cb.sem.Release(n)
		done()
		return nil, err
	}
	held := n
	return func(keep int64) {
		give := held - max(keep, 0)
		if give <= 0 {
			return
		}
		held -= give
		b.all.Release(give)
		cb.sem.Release(give)
		if held == 0 {
			done()
		}
	}, nil
}
