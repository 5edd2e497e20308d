package relay

import (
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/url"
	"strings"
	"sync"

	"github.com/hooktap/hooktap/relay/page"
)

// pageCookie names the cookie that carries a channel's token for its page.
func pageCookie(channel string) string {
	return "hooktap_" + strings.NewReplacer(".", "_", "-", "_").Replace(channel)
}

// channelPage guards the channel page. In team mode it takes the channel's
// token (or the admin token) from ?token=, a bearer header or the page's
// cookie; a token in the URL is moved into an HttpOnly cookie and the
// browser redirected to the clean URL, so the token leaves the address bar
// and the page's live stream still carries it.
func (s *Server) channelPage(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rest := strings.TrimPrefix(r.URL.Path, "/c/")
		name, _, _ := strings.Cut(rest, "/")
		page.SetHeaders(w.Header()) // refusals too
		if !ValidChannel(name) {
			httpError(w, http.StatusNotFound, "no such channel")
			return
		}
		if !s.teamMode() {
			next.ServeHTTP(w, r)
			return
		}
		if !s.team.registry.Exists(name) {
			httpError(w, http.StatusNotFound, "unknown channel %q on this relay", name)
			return
		}
		if q := r.URL.Query(); q.Has("token") {
			s.pageLogin(w, r, name, q)
			return
		}
		tok := bearer(r)
		if tok == "" {
			if c, err := r.Cookie(pageCookie(name)); err == nil {
				tok = c.Value
			}
		}
		if !s.opensPage(name, tok) {
			w.Header().Set("WWW-Authenticate", `Bearer realm="hooktap channel"`)
			httpError(w, http.StatusUnauthorized, "channel %s's page needs its token: open /c/%s?token=<agent token>", name, name)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// opensPage reports whether tok opens channel name's page: the channel's
// token or the admin token.
func (s *Server) opensPage(name, tok string) bool {
	return tok != "" && (s.team.registry.Check(name, tok) == nil || s.team.isAdmin(tok))
}

// pageLogin moves the token of a page's URL (q) into an HttpOnly cookie
// and redirects to the URL without it.
func (s *Server) pageLogin(w http.ResponseWriter, r *http.Request, name string, q url.Values) {
	tok := q.Get("token")
	if !s.opensPage(name, tok) {
		httpError(w, http.StatusUnauthorized, "wrong token for channel %s", name)
		return
	}
	http.SetCookie(w, &http.Cookie{
		Name: pageCookie(name), Value: tok, Path: "/c/" + name,
		HttpOnly: true, Secure: r.TLS != nil, SameSite: http.SameSiteStrictMode,
	})
	q.Del("token")
	u := url.URL{Path: r.URL.Path, RawQuery: q.Encode()}
	http.Redirect(w, r, u.String(), http.StatusSeeOther)
}

// pageFeed keeps each channel's latest deliveries for the channel page and
// streams new ones to its viewers. It implements page.Source.
type pageFeed struct {
	srv *Server

	mu     sync.Mutex
	rings  map[string]*ring
	subs   map[string]map[chan page.Item]struct{}
	closed bool
}

var _ page.Source = (*pageFeed)(nil)

// ring holds the last page.RecentLen items of one channel.
type ring struct {
	items []page.Item
	next  int
}

// maxFeedChannels bounds the rings kept when senders invent channel names
// (open mode).
const maxFeedChannels = 1000

func newPageFeed(s *Server) *pageFeed {
	return &pageFeed{srv: s, rings: map[string]*ring{}, subs: map[string]map[chan page.Item]struct{}{}}
}

// add records an answered delivery and hands it to the channel's viewers.
func (f *pageFeed) add(channel string, it page.Item) {
	f.mu.Lock()
	defer f.mu.Unlock()
	r := f.rings[channel]
	if r == nil {
		if len(f.rings) >= maxFeedChannels {
			return
		}
		r = &ring{}
		f.rings[channel] = r
	}
	if len(r.items) < page.RecentLen {
		r.items = append(r.items, it)
	} else {
		r.items[r.next] = it
		r.next = (r.next + 1) % page.RecentLen
	}
	for sub := range f.subs[channel] {
		select {
		case sub <- it:
		default: // a slow viewer misses it
		}
	}
}

// forget drops a deleted channel's history and ends its viewers' streams.
func (f *pageFeed) forget(channel string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.rings, channel)
	for sub := range f.subs[channel] {
		close(sub)
	}
	delete(f.subs, channel)
}

// Recent implements page.Source.
func (f *pageFeed) Recent(channel string, n int) []page.Item {
	f.mu.Lock()
	defer f.mu.Unlock()
	r := f.rings[channel]
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
func (f *pageFeed) Agents(channel string) []page.Agent {
	s := f.srv
	if s.signals != nil { // the cluster's
		var out []page.Agent
		for id, fl := range s.signals.Agents(channel) {
			out = append(out, page.Agent{ID: agentLabel(id), Events: fl.Events, ObjectTypes: fl.ObjectTypes, EntityIDs: fl.EntityIDs})
		}
		return out
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	ch := s.channels[channel]
	if ch == nil {
		return nil
	}
	out := make([]page.Agent, 0, len(ch.sessions))
	for ss := range ch.sessions {
		out = append(out, page.Agent{ID: agentLabel(ss.agentID), Events: ss.filter.Events,
			ObjectTypes: ss.filter.ObjectTypes, EntityIDs: ss.filter.EntityIDs})
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
func (f *pageFeed) Subscribe(channel string) (<-chan page.Item, func()) {
	c := make(chan page.Item, 64)
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		close(c)
		return c, func() {}
	}
	if f.subs[channel] == nil {
		f.subs[channel] = map[chan page.Item]struct{}{}
	}
	f.subs[channel][c] = struct{}{}
	return c, func() {
		f.mu.Lock()
		defer f.mu.Unlock()
		if _, ok := f.subs[channel][c]; ok {
			delete(f.subs[channel], c)
			if len(f.subs[channel]) == 0 {
				delete(f.subs, channel)
			}
			close(c)
		}
	}
}

// shutdown ends every viewer's stream, so that a graceful HTTP shutdown
// does not wait for them.
func (f *pageFeed) shutdown() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.closed = true
	for _, subs := range f.subs {
		for sub := range subs {
			close(sub)
		}
	}
	f.subs = map[string]map[chan page.Item]struct{}{}
}
