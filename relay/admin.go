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
//	POST   /api/channels                     {"name": "billing"} -> 201 ChannelToken
//	GET    /api/channels                     -> 200 [ChannelStatus]
//	GET    /api/channels/{name}              -> 200 ChannelStatus
//	DELETE /api/channels/{name}              -> 204
//	POST   /api/channels/{name}/rotate-token -> 200 ChannelToken

// ChannelToken answers a create or a rotation: the only time the agent
// token is shown.
type ChannelToken struct {
	Name  string `json:"name"`
	URL   string `json:"url"` // the ingress URL
	Token string `json:"token"`
}

// ChannelStatus describes a channel in the admin API.
type ChannelStatus struct {
	Name       string    `json:"name"`
	URL        string    `json:"url"`
	CreatedAt  time.Time `json:"created_at"`
	TokenSetAt time.Time `json:"token_set_at"`
	Agents     int       `json:"agents"`
}

func (s *Server) apiChannels(w http.ResponseWriter, r *http.Request) {
	switch r.Method {
	case http.MethodGet:
		agents := s.Agents()
		out := []ChannelStatus{}
		for _, c := range s.ops.registry.List() {
			out = append(out, s.status(r, c, agents))
		}
		writeJSON(w, http.StatusOK, out)
	case http.MethodPost:
		var req struct {
			Name string `json:"name"`
		}
		if err := json.NewDecoder(io.LimitReader(r.Body, 4096)).Decode(&req); err != nil {
			httpError(w, http.StatusBadRequest, "the body must be JSON like {\"name\": \"billing\"}")
			return
		}
		if !ValidChannel(req.Name) {
			httpError(w, http.StatusBadRequest, "bad channel name %q: use 1-64 letters, digits, '.', '_' or '-'", req.Name)
			return
		}
		tok, err := s.ops.registry.Create(r.Context(), req.Name)
		if errors.Is(err, ErrChannelExists) {
			httpError(w, http.StatusConflict, "channel %s already exists (rotate-token gives it a new token)", req.Name)
			return
		}
		if err != nil {
			s.log.Error("create channel", "channel", req.Name, "err", err)
			httpError(w, http.StatusInternalServerError, "could not create the channel")
			return
		}
		s.log.Info("channel created", "channel", req.Name)
		writeJSON(w, http.StatusCreated, ChannelToken{Name: req.Name, URL: s.ingressURL(r, req.Name), Token: tok})
	default:
		w.Header().Set("Allow", "GET, POST")
		httpError(w, http.StatusMethodNotAllowed, "use GET or POST")
	}
}

func (s *Server) apiChannel(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	switch r.Method {
	case http.MethodGet:
		for _, c := range s.ops.registry.List() {
			if c.Name == name {
				writeJSON(w, http.StatusOK, s.status(r, c, s.Agents()))
				return
			}
		}
		httpError(w, http.StatusNotFound, "no channel %q", name)
	case http.MethodDelete:
		err := s.ops.registry.Delete(r.Context(), name)
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
		s.ops.feed.forget(name)
		s.log.Info("channel deleted", "channel", name)
		w.WriteHeader(http.StatusNoContent)
	default:
		w.Header().Set("Allow", "GET, DELETE")
		httpError(w, http.StatusMethodNotAllowed, "use GET or DELETE")
	}
}

func (s *Server) apiRotate(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	tok, err := s.ops.registry.Rotate(r.Context(), name)
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
	writeJSON(w, http.StatusOK, ChannelToken{Name: name, URL: s.ingressURL(r, name), Token: tok})
}

func (s *Server) status(r *http.Request, c ChannelInfo, agents map[string]int) ChannelStatus {
	return ChannelStatus{Name: c.Name, URL: s.ingressURL(r, c.Name), CreatedAt: c.CreatedAt, TokenSetAt: c.TokenSetAt, Agents: agents[c.Name]}
}

func (s *Server) ingressURL(r *http.Request, channel string) string {
	return s.baseURL(r) + "/h/" + channel
}

// disconnect tells every agent on channel why, with an error the agent
// treats as final, and closes its connection.
func (s *Server) disconnect(channel, code, msg string) {
	s.mu.Lock()
	var conns []*wire.Conn
	if ch := s.channels[channel]; ch != nil {
		for ss := range ch.sessions {
			conns = append(conns, ss.conn)
		}
	}
	s.mu.Unlock()
	for _, c := range conns {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		_ = c.Send(ctx, &wire.Error{Code: code, Message: msg})
		cancel()
		c.Close(websocket.ClosePolicyViolation, code)
	}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}
