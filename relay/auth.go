package relay

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"net/http"
	"net/url"
	"strings"

	"github.com/hooktap/hooktap/relay/page"
	"github.com/hooktap/hooktap/relay/wire"
)

// authorize checks a hello's channel and token in team mode; in open mode
// every channel is open. A refusal is sent to the agent, which stops
// retrying. The token is never logged.
func (s *Server) authorize(ctx context.Context, conn *wire.Conn, h *wire.Hello) error {
	if !s.teamMode() {
		return nil
	}
	switch err := s.ops.registry.Check(h.Channel, h.Token); {
	case errors.Is(err, ErrNoChannel):
		s.log.Info("agent refused: unknown channel", "channel", h.Channel, "agent", h.AgentID)
		return s.refuse(ctx, conn, wire.CodeUnknownChannel,
			"no channel "+h.Channel+" on this relay (an admin creates it with: hooktap channels create "+h.Channel+")")
	case err != nil:
		s.log.Info("agent refused: bad token", "channel", h.Channel, "agent", h.AgentID, "token_given", h.Token != "")
		msg := "channel " + h.Channel + " needs its agent token: pass --token or set HOOKTAP_TOKEN"
		if h.Token != "" {
			msg = "wrong token for channel " + h.Channel + " (rotated? ask an admin for the current one)"
		}
		return s.refuse(ctx, conn, wire.CodeUnauthorized, msg)
	}
	return nil
}

// bearer returns the token of an "Authorization: Bearer" header.
func bearer(r *http.Request) string {
	scheme, tok, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return ""
	}
	return strings.TrimSpace(tok)
}

// isAdmin compares tok with the admin token in constant time (hashes of
// equal length, so the length does not leak either).
func (s *Server) isAdmin(tok string) bool {
	if !s.teamMode() || tok == "" {
		return false
	}
	h := sha256.Sum256([]byte(tok))
	return subtle.ConstantTimeCompare(h[:], s.ops.adminHash[:]) == 1
}

// isMetricsReader compares tok with the metrics token, if the relay has
// one, in constant time.
func (s *Server) isMetricsReader(tok string) bool {
	if s.ops.metricsHash == ([sha256.Size]byte{}) || tok == "" {
		return false
	}
	h := sha256.Sum256([]byte(tok))
	return subtle.ConstantTimeCompare(h[:], s.ops.metricsHash[:]) == 1
}

// metricsReader guards /metrics in team mode: it names every channel, and
// a name is all a sender needs to post to a channel without a URL secret.
// The admin token or the metrics token reads it; in open mode, where any
// name is a channel anyway, it stays open.
func (s *Server) metricsReader(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if s.teamMode() {
			w.Header().Set("Cache-Control", "no-store")
			if tok := bearer(r); !s.isAdmin(tok) && !s.isMetricsReader(tok) {
				w.Header().Set("WWW-Authenticate", `Bearer realm="hooktap metrics"`)
				httpError(w, http.StatusUnauthorized, "/metrics needs the relay's metrics token or admin token (Authorization: Bearer ...)")
				return
			}
		}
		next(w, r)
	}
}

// ingressAllowed reports whether a sender may post to channel name in team
// mode: the channel exists and, when its URL has a secret, the path
// carries it as the segment right after /h/{name}. A checked secret is
// recorded on r (urlSecretValue) so that the path suffix leaves it out.
func (s *Server) ingressAllowed(r *http.Request, name string) bool {
	seg, _, _ := strings.Cut(strings.TrimPrefix(pathSuffix(r, name), "/"), "/")
	ok, consumed := s.ops.registry.Ingress(name, seg)
	if ok && consumed {
		r.SetPathValue(urlSecretValue, seg)
	}
	return ok
}

// admin guards the admin API: team mode and the admin token as a bearer
// token.
func (s *Server) admin(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		if !s.teamMode() {
			httpError(w, http.StatusNotFound, "this relay runs in open mode: start it with --admin-token to manage channels")
			return
		}
		if !s.isAdmin(bearer(r)) {
			w.Header().Set("WWW-Authenticate", `Bearer realm="hooktap admin"`)
			httpError(w, http.StatusUnauthorized, "the admin API needs the relay's admin token (Authorization: Bearer ...)")
			return
		}
		next(w, r)
	}
}

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
		if !s.ops.registry.Exists(name) {
			httpError(w, http.StatusNotFound, "unknown channel %q on this relay", name)
			return
		}
		ok := func(tok string) bool {
			return tok != "" && (s.ops.registry.Check(name, tok) == nil || s.isAdmin(tok))
		}
		if q := r.URL.Query(); q.Has("token") {
			tok := q.Get("token")
			if !ok(tok) {
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
			return
		}
		tok := bearer(r)
		if tok == "" {
			if c, err := r.Cookie(pageCookie(name)); err == nil {
				tok = c.Value
			}
		}
		if !ok(tok) {
			w.Header().Set("WWW-Authenticate", `Bearer realm="hooktap channel"`)
			httpError(w, http.StatusUnauthorized, "channel %s's page needs its token: open /c/%s?token=<agent token>", name, name)
			return
		}
		next.ServeHTTP(w, r)
	})
}
