package relay

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"time"

	"github.com/gorilla/websocket"

	"github.com/hooktap/hooktap/relay/wire"
)

// The admin API (team mode, admin token as a bearer token):
//
//	POST   /api/channels                     {"name": "billing", "secret_url": false} -> 201 ChannelToken
//	GET    /api/channels                     -> 200 [ChannelStatus]
//	GET    /api/channels/{name}              -> 200 ChannelStatus
//	DELETE /api/channels/{name}              -> 204
//	POST   /api/channels/{name}/rotate-token -> 200 ChannelToken
//	POST   /api/channels/{name}/rotate-url   -> 200 ChannelStatus
//
// Every URL in the answers is the full ingress URL, with the channel's URL
// secret when it has one.

// ChannelToken answers a create or a rotation: the only time the agent
// token is shown.
type ChannelToken struct {
	Name      string `json:"name"`
	URL       string `json:"url"` // the ingress URL
	SecretURL bool   `json:"secret_url"`
	Token     string `json:"token"`
}

// ChannelStatus describes a channel in the admin API.
type ChannelStatus struct {
	Name       string    `json:"name"`
	URL        string    `json:"url"`
	SecretURL  bool      `json:"secret_url"` // the URL carries a secret segment
	CreatedAt  time.Time `json:"created_at"`
	TokenSetAt time.Time `json:"token_set_at"`
	Agents     int       `json:"agents"`
}

func (s *Server) apiChannels(w http.ResponseWriter, r *http.Request) {
	switch r.Method {
	case http.MethodGet:
		agents := s.allAgents(r.Context())
		out := []ChannelStatus{}
		for _, c := range s.team.registry.List() {
			out = append(out, s.status(r, c, agents))
		}
		writeJSON(w, http.StatusOK, out)
	case http.MethodPost:
		var req struct {
			Name      string `json:"name"`
			SecretURL bool   `json:"secret_url"`
		}
		if err := json.NewDecoder(io.LimitReader(r.Body, 4096)).Decode(&req); err != nil {
			httpError(w, http.StatusBadRequest, "the body must be JSON like {\"name\": \"billing\"}")
			return
		}
		if !ValidChannel(req.Name) {
			httpError(w, http.StatusBadRequest, "bad channel name %q: use 1-64 letters, digits, '.', '_' or '-'", req.Name)
			return
		}
		tok, err := s.team.registry.Create(r.Context(), req.Name, req.SecretURL)
		if errors.Is(err, ErrChannelExists) {
			httpError(w, http.StatusConflict, "channel %s already exists (rotate-token gives it a new token)", req.Name)
			return
		}
		if err != nil {
			s.log.Error("create channel", "channel", req.Name, "err", err)
			httpError(w, http.StatusInternalServerError, "could not create the channel")
			return
		}
		s.log.Info("channel created", "channel", req.Name, "secret_url", req.SecretURL)
		writeJSON(w, http.StatusCreated, ChannelToken{Name: req.Name, URL: s.ingressURL(r, req.Name), SecretURL: req.SecretURL, Token: tok})
	default:
		w.Header().Set("Allow", "GET, POST")
		httpError(w, http.StatusMethodNotAllowed, "use GET or POST")
	}
}

func (s *Server) apiChannel(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	switch r.Method {
	case http.MethodGet:
		for _, c := range s.team.registry.List() {
			if c.Name == name {
				writeJSON(w, http.StatusOK, s.status(r, c, s.allAgents(r.Context())))
				return
			}
		}
		httpError(w, http.StatusNotFound, "no channel %q", name)
	case http.MethodDelete:
		err := s.team.registry.Delete(r.Context(), name)
		if errors.Is(err, ErrNoChannel) {
			httpError(w, http.StatusNotFound, "no channel %q", name)
			return
		}
		if err != nil {
			s.log.Error("delete channel", "channel", name, "err", err)
			httpError(w, http.StatusInternalServerError, "could not delete the channel")
			return
		}
		s.disconnect(name, wire.CodeUnknownChannel, "channel "+name+" was deleted")
		s.feed.forget(name)
		s.log.Info("channel deleted", "channel", name)
		w.WriteHeader(http.StatusNoContent)
	default:
		w.Header().Set("Allow", "GET, DELETE")
		httpError(w, http.StatusMethodNotAllowed, "use GET or DELETE")
	}
}

func (s *Server) apiRotate(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	tok, err := s.team.registry.Rotate(r.Context(), name)
	if errors.Is(err, ErrNoChannel) {
		httpError(w, http.StatusNotFound, "no channel %q", name)
		return
	}
	if err != nil {
		s.log.Error("rotate token", "channel", name, "err", err)
		httpError(w, http.StatusInternalServerError, "could not rotate the token")
		return
	}
	// Agents that joined with the old token must present the new one.
	s.disconnect(name, wire.CodeUnauthorized, "the token of channel "+name+" was rotated")
	s.log.Info("channel token rotated", "channel", name)
	writeJSON(w, http.StatusOK, ChannelToken{Name: name, URL: s.ingressURL(r, name), SecretURL: s.team.registry.URLSecret(name) != "", Token: tok})
}

// apiRotateURL gives a channel's ingress URL a new secret (its first, if
// it had none). The old URL stops working at once; the channel's agents
// are asked to reconnect, so that they show the new URL.
func (s *Server) apiRotateURL(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	err := s.team.registry.RotateURL(r.Context(), name)
	if errors.Is(err, ErrNoChannel) {
		httpError(w, http.StatusNotFound, "no channel %q", name)
		return
	}
	if err != nil {
		s.log.Error("rotate URL", "channel", name, "err", err)
		httpError(w, http.StatusInternalServerError, "could not rotate the URL")
		return
	}
	s.reconnect(name, "the webhook URL of channel "+name+" changed")
	s.log.Info("channel URL rotated", "channel", name)
	for _, c := range s.team.registry.List() {
		if c.Name == name {
			writeJSON(w, http.StatusOK, s.status(r, c, s.allAgents(r.Context())))
			return
		}
	}
	httpError(w, http.StatusNotFound, "no channel %q", name) // deleted meanwhile
}

func (s *Server) status(r *http.Request, c ChannelInfo, agents map[string]int) ChannelStatus {
	return ChannelStatus{
		Name: c.Name, URL: s.channelURL(s.baseURL(r), c.Name, c.URLSecret), SecretURL: c.URLSecret != "",
		CreatedAt: c.CreatedAt, TokenSetAt: c.TokenSetAt, Agents: agents[c.Name],
	}
}

func (s *Server) ingressURL(r *http.Request, channel string) string {
	return s.agentURL(s.baseURL(r), channel)
}

// agentURL is the ingress URL of channel under base, as agents are told it
// in their welcome: with the channel's URL secret, which they may know
// since they hold its token.
func (s *Server) agentURL(base, channel string) string {
	secret := ""
	if s.teamMode() {
		secret = s.team.registry.URLSecret(channel)
	}
	return s.channelURL(base, channel, secret)
}

func (s *Server) channelURL(base, channel, secret string) string {
	if secret == "" {
		return base + "/h/" + channel
	}
	return base + "/h/" + channel + "/" + secret
}

// channelChanged acts on a change another node made to a channel: this
// node's agents of it hear what they would from this node's admin API.
func (s *Server) channelChanged(name string, c change) {
	switch c {
	case changeToken:
		s.disconnect(name, wire.CodeUnauthorized, "the token of channel "+name+" was rotated")
	case changeURL:
		s.reconnect(name, "the webhook URL of channel "+name+" changed")
	case changeDeleted:
		s.disconnect(name, wire.CodeUnknownChannel, "channel "+name+" was deleted")
		s.feed.forget(name)
	}
}

// disconnect tells every agent on channel why, with an error the agent
// treats as final, and closes its connection.
func (s *Server) disconnect(channel, code, msg string) {
	for _, c := range s.conns(channel) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		_ = c.Send(ctx, &wire.Error{Code: code, Message: msg})
		cancel()
		c.Close(websocket.ClosePolicyViolation, code)
	}
}

// reconnect closes the connections of channel's agents without an error,
// so that they connect again at once (and hear the channel's new welcome).
func (s *Server) reconnect(channel, why string) {
	for _, c := range s.conns(channel) {
		c.Close(websocket.CloseServiceRestart, why)
	}
}

// conns returns the connections of channel's agents.
func (s *Server) conns(channel string) []*wire.Conn {
	s.mu.Lock()
	defer s.mu.Unlock()
	var conns []*wire.Conn
	if ch := s.channels[channel]; ch != nil {
		for ss := range ch.sessions {
			conns = append(conns, ss.conn)
		}
	}
	return conns
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}
