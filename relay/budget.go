package relay

import (
	"context"
	"errors"
	"io"
	"sync"

	"golang.org/x/sync/semaphore"
)

// Memory bounds. A relay holds a delivery's body in memory from the moment
// it starts reading it until the buffer has committed it; after that, only
// the live queues of agents hold it (at most maxQueueBytes each), and a
// frame on its way. Pages read back from the buffer for agents catching up
// are bounded relay-wide too. The rest waits on disk, in the buffer.
const (
	// bodyBudget bounds the bodies being read or committed, relay-wide;
	// channelBodyBudget, those of one channel, so that one busy channel
	// cannot take all of it. Bytes count as they arrive: a sender that
	// trickles its body holds only what it has sent.
	bodyBudget        = 128 << 20
	channelBodyBudget = 48 << 20
	// maxQueueBytes bounds an agent's live queue; beyond it, the agent
	// catches up from the buffer.
	maxQueueBytes = 8 << 20
	// maxWindowBytes bounds the bytes in flight to one agent (sent, not yet
	// acked), beside the window's count; one delivery always fits.
	maxWindowBytes = 32 << 20
	// catchUpBytes bounds one page read from the buffer; readBudget, the
	// pages read at once relay-wide (sessions wait their turn).
	catchUpBytes = 8 << 20
	readBudget   = 64 << 20
)

// budgets hands out room for request bodies, from the relay's budget and
// from the channel's, and for pages read back from the buffer.
type budgets struct {
	all     *semaphore.Weighted
	channel int64 // what one channel may hold
	reads   *semaphore.Weighted
	page    int64 // one page's share of reads

	mu  sync.Mutex
	per map[string]*channelBudget
}

type channelBudget struct {
	sem   *semaphore.Weighted
	users int // requests holding or waiting for room; the entry goes at 0
}

func newBudgets(maxBody int64) *budgets {
	page := max(catchUpBytes, maxBody) // a page holds at least one delivery
	return &budgets{
		all:     semaphore.NewWeighted(max(bodyBudget, 2*maxBody)),
		channel: max(channelBodyBudget, maxBody),
		reads:   semaphore.NewWeighted(max(readBudget, 2*page)),
		page:    page,
		per:     map[string]*channelBudget{},
	}
}

// bodyChunk is the most a body reader takes room for at a time.
const bodyChunk = 64 << 10

// errBusy is what a body reader returns when ctx ended before there was
// room for the next chunk.
var errBusy = errors.New("no room for the body")

// bodyReader reads a request body, taking room in the budgets for each
// chunk before it reads it. Close gives back all it holds.
type bodyReader struct {
	b    *budgets
	cb   *channelBudget
	name string
	ctx  context.Context // bounds the waits for room
	r    io.Reader
	held int64
}

// body wraps r, a request body for channel, to read within the budgets;
// waiting for room ends with ctx.
func (b *budgets) body(ctx context.Context, channel string, r io.Reader) *bodyReader {
	b.mu.Lock()
	cb := b.per[channel]
	if cb == nil {
		cb = &channelBudget{sem: semaphore.NewWeighted(b.channel)}
		b.per[channel] = cb
	}
	cb.users++
	b.mu.Unlock()
	return &bodyReader{b: b, cb: cb, name: channel, ctx: ctx, r: r}
}

func (br *bodyReader) Read(p []byte) (int, error) {
	n := int64(min(len(p), bodyChunk))
	if n == 0 {
		return 0, nil
	}
	if err := br.cb.sem.Acquire(br.ctx, n); err != nil {
		return 0, errBusy
	}
	if err := br.b.all.Acquire(br.ctx, n); err != nil {
		br.cb.sem.Release(n)
		return 0, errBusy
	}
	m, err := br.r.Read(p[:n])
	br.give(n - int64(m))
	br.held += int64(m)
	return m, err
}

func (br *bodyReader) give(n int64) {
	if n > 0 {
		br.b.all.Release(n)
		br.cb.sem.Release(n)
	}
}

// Close gives back the room the body took. Call it once the body is
// committed to the buffer (or failed to be).
func (br *bodyReader) Close() {
	br.give(br.held)
	br.held = 0
	b := br.b
	b.mu.Lock()
	if br.cb.users--; br.cb.users == 0 {
		delete(b.per, br.name)
	}
	b.mu.Unlock()
}

// reading waits for room to read a page from the buffer and returns a
// function that gives it back, once the page is sent.
func (b *budgets) reading(ctx context.Context) (release func(), err error) {
	if err := b.reads.Acquire(ctx, b.page); err != nil {
		return nil, err
	}
	return func() { b.reads.Release(b.page) }, nil
}
