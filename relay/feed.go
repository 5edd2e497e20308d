package relay

import (
	"crypto/sha256"
	"encoding/hex"
	"sync"

	"github.com/hooktap/hooktap/relay/page"
)

// feedHub keeps each channel's latest deliveries for the channel page and
// streams new ones to its viewers. It implements page.Source.
type feedHub struct {
	srv *Server

	mu     sync.Mutex
	rings  map[string]*ring
	subs   map[string]map[chan page.Item]struct{}
	closed bool
}

var _ page.Source = (*feedHub)(nil)

// ring holds the last page.RecentLen items of one channel.
type ring struct {
	items []page.Item
	next  int
}

// maxFeedChannels bounds the rings kept when senders invent channel names
// (open mode).
const maxFeedChannels = 1000

func newFeedHub(s *Server) *feedHub {
	return &feedHub{srv: s, rings: map[string]*ring{}, subs: map[string]map[chan page.Item]struct{}{}}
}

// add records an answered delivery and hands it to the channel's viewers.
func (h *feedHub) add(channel string, it page.Item) {
	h.mu.Lock()
	defer h.mu.Unlock()
	r := h.rings[channel]
	if r == nil {
		if len(h.rings) >= maxFeedChannels {
			return
		}
		r = &ring{}
		h.rings[channel] = r
	}
	if len(r.items) < page.RecentLen {
		r.items = append(r.items, it)
	} else {
		r.items[r.next] = it
		r.next = (r.next + 1) % page.RecentLen
	}
	for sub := range h.subs[channel] {
		select {
		case sub <- it:
		default: // a slow viewer misses it
		}
	}
}

// forget drops a deleted channel's history and ends its viewers' streams.
func (h *feedHub) forget(channel string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	delete(h.rings, channel)
	for sub := range h.subs[channel] {
		close(sub)
	}
	delete(h.subs, channel)
}

// Recent implements page.Source.
func (h *feedHub) Recent(channel string, n int) []page.Item {
	h.mu.Lock()
	defer h.mu.Unlock()
	r := h.rings[channel]
	if r == nil {
		return nil
	}
	out := make([]page.Item, 0, len(r.items))
	out = append(out, r.items[r.next:]...)
	out = append(out, r.items[:r.next]...)
	if len(out) > n {
		out = out[len(out)-n:]
	}
	return out
}

// Agents implements page.Source.
func (h *feedHub) Agents(channel string) []page.Agent {
	s := h.srv
	s.mu.Lock()
	defer s.mu.Unlock()
	ch := s.channels[channel]
	if ch == nil {
		return nil
	}
	out := make([]page.Agent, 0, len(ch.sessions))
	for ss := range ch.sessions {
		out = append(out, page.Agent{ID: agentLabel(ss.agentID), Events: ss.events})
	}
	return out
}

// agentLabel names an agent on the channel page without its id: an id is
// bound to its agent's key, and still nobody else needs to know it.
func agentLabel(id string) string {
	h := sha256.Sum256([]byte("hooktap agent label\x00" + id))
	return "agent " + hex.EncodeToString(h[:4])
}

// Subscribe implements page.Source.
func (h *feedHub) Subscribe(channel string) (<-chan page.Item, func()) {
	c := make(chan page.Item, 64)
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		close(c)
		return c, func() {}
	}
	if h.subs[channel] == nil {
		h.subs[channel] = map[chan page.Item]struct{}{}
	}
	h.subs[channel][c] = struct{}{}
	return c, func() {
		h.mu.Lock()
		defer h.mu.Unlock()
		if _, ok := h.subs[channel][c]; ok {
			delete(h.subs[channel], c)
			if len(h.subs[channel]) == 0 {
				delete(h.subs, channel)
			}
			close(c)
		}
	}
}

// shutdown ends every viewer's stream, so that a graceful HTTP shutdown
// does not wait for them.
func (h *feedHub) shutdown() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.closed = true
	for _, subs := range h.subs {
		for sub := range subs {
			close(sub)
		}
	}
	h.subs = map[string]map[chan page.Item]struct{}{}
}
