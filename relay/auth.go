package relay

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"github.com/hooktap/hooktap/relay/wire"
)

// authorize checks a hello's channel and token in team mode; in open mode
// every channel is open. A refusal is sent to the agent, which stops
// retrying. The token is never logged.
func (s *Server) authorize(ctx context.Context, conn *wire.Conn, h *wire.Hello) error {
	if !s.teamMode() {
		return nil
	}
	switch err := s.team.registry.Check(h.Channel, h.Token); {
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

// metricsReader guards /metrics in team mode: it names every channel, and
// a name is all a sender needs to post to a channel without a URL secret.
// The admin token or the metrics token reads it; in open mode, where any
// name is a channel anyway, it stays open.
func (s *Server) metricsReader(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if s.teamMode() {
			w.Header().Set("Cache-Control", "no-store")
			if tok := bearer(r); !s.team.isAdmin(tok) && !s.team.isMetricsReader(tok) {
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
	ok, consumed := s.team.registry.Ingress(name, seg)
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
		if tok := bearer(r); !s.team.isAdmin(tok) {
			w.Header().Set("WWW-Authenticate", `Bearer realm="hooktap admin"`)
			httpError(w, http.StatusUnauthorized, "%s", s.adminRefusal(r, tok))
			return
		}
		next(w, r)
	}
}

// adminRefusal says in one line what is wrong with a request's admin token
// (none, not a bearer token, or not this relay's) and how to give it. It
// never repeats what was sent.
func (s *Server) adminRefusal(r *http.Request, tok string) string {
	const give = "give it to hooktap channels with --admin-token TOKEN or HOOKTAP_ADMIN_TOKEN, or send Authorization: Bearer TOKEN"
	switch {
	case r.Header.Get("Authorization") == "":
		return "no admin token: the admin API needs the token this relay was started with (its --admin-token or HOOKTAP_ADMIN_TOKEN); " + give
	case tok == "":
		return "the Authorization header is not \"Bearer TOKEN\": the admin API takes the relay's admin token only as a bearer token; " + give
	case s.team.isMetricsReader(tok):
		return "that is the relay's metrics token, which reads /metrics only: the admin API needs the admin token; " + give
	}
	return "wrong admin token: not the one this relay was started with (its --admin-token or HOOKTAP_ADMIN_TOKEN); " + give
}
