package relay

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/hooktap/hooktap/relay/payload"
	"github.com/hooktap/hooktap/relay/wire"
)

// HeaderDelivery names the delivery in every answer the relay gives.
const HeaderDelivery = "X-Hooktap-Delivery"

func (s *Server) ingress(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("channel")
	if !ValidChannel(name) {
		httpError(w, http.StatusNotFound, "unknown channel %q: names are 1-64 letters, digits, '.', '_' or '-'", name)
		return
	}
	switch {
	case !validMethod(r.Method):
		httpError(w, http.StatusBadRequest, "bad method: methods are 1-32 letters, digits, '-' or '_'")
		return
	case r.Method == http.MethodConnect:
		httpError(w, http.StatusMethodNotAllowed, "CONNECT asks a proxy for a tunnel, and a webhook URL is not one")
		return
	case r.Method == http.MethodTrace:
		httpError(w, http.StatusMethodNotAllowed, "TRACE is not forwarded: echoing requests back only helps cross-site tracing")
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.cfg.MaxBody))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			httpError(w, http.StatusRequestEntityTooLarge, "body larger than %d bytes", s.cfg.MaxBody)
			return
		}
		httpError(w, http.StatusBadRequest, "read body: %v", err)
		return
	}
	// From here to Append, this delivery is a write on its way (Expect).
	s.soon.Add(1)
	hdr := r.Header.Clone()
	wire.StripHopHeaders(hdr)
	proto := "http"
	if r.TLS != nil {
		proto = "https"
	}
	d := &wire.Delivery{
		ID:         newID(),
		Channel:    name,
		ReceivedAt: time.Now().UTC(),
		Method:     r.Method,
		Path:       pathSuffix(r, name),
		Query:      r.URL.RawQuery,
		Header:     hdr,
		Body:       body,
		RemoteAddr: remoteIP(r),
		Host:       r.Host,
		Proto:      proto,
	}
	f := payload.Parse(hdr, body)
	d.Fields = &f
	action := f.Action
	noteAction(w, action) // for the channel page (ops.go)

	wait := s.expect(d.ID)
	defer s.forget(d.ID)
	// Published in seq order as soon as the write is on its way: the agent
	// works while the relay commits; the sender's answer waits for both.
	var connected, matched, live int
	publish := func() { connected, matched, live = s.publish(d, action) }
	s.soon.Add(-1)
	if err := s.buf.Append(r.Context(), d, publish); err != nil {
		s.log.Error("store delivery", "channel", name, "err", err)
		httpError(w, http.StatusServiceUnavailable, "the relay could not store the delivery; retry later")
		return
	}
	if live == 0 {
		if connected == 0 && s.cfg.OfflineStatus == http.StatusServiceUnavailable {
			// The sender will retry; its retry is the copy that counts.
			s.buf.Forget(d.Channel, d.Seq)
			w.Header().Set("Retry-After", "10")
			queued(w, d, http.StatusServiceUnavailable, "no agent is connected to channel "+name+"; retry later")
			return
		}
		msg := "no agent is connected to channel " + name + "; kept for the next one that connects"
		switch {
		case connected > 0 && matched == 0:
			msg = "no agent on channel " + name + " subscribes to this event; kept for those that do"
		case connected > 0:
			msg = "the agents on channel " + name + " are busy; kept and delivered in order"
		}
		queued(w, d, http.StatusAccepted, msg)
		return
	}

	timer := time.NewTimer(s.cfg.ResponseTimeout)
	defer timer.Stop()
	select {
	case ack := <-wait:
		if ack == nil {
			queued(w, d, http.StatusAccepted, "the agent disconnected; kept and delivered when it is back")
			return
		}
		s.reply(w, d, ack)
	case <-timer.C:
		queued(w, d, http.StatusAccepted, "the agent did not answer within "+s.cfg.ResponseTimeout.String()+"; kept and delivered")
	case <-r.Context().Done():
	}
}

// validMethod reports whether m is 1-32 letters, digits, '-' or '_', as
// every method in the IANA registry is. Go's server takes any token, and a
// token may hold ` $ ' | &, which a shell reads when the method is pasted
// in a copied command.
func validMethod(m string) bool {
	if m == "" || len(m) > 32 {
		return false
	}
	for i := 0; i < len(m); i++ {
		c := m[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// pathSuffix is the escaped path after /h/{channel}, "" or starting with "/".
func pathSuffix(r *http.Request, channel string) string {
	p := r.URL.EscapedPath()
	prefix := "/h/" + channel
	if !strings.HasPrefix(p, prefix) {
		// The channel was escaped in the URL; fall back to the decoded form.
		return strings.TrimPrefix(r.URL.Path, prefix)
	}
	return p[len(prefix):]
}

func remoteIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// reply passes the app's answer, as the agent reported it, to the sender.
func (s *Server) reply(w http.ResponseWriter, d *wire.Delivery, a *wire.Ack) {
	w.Header().Set(HeaderDelivery, d.ID)
	if a.Status == 0 {
		status := http.StatusBadGateway
		if a.Timeout {
			status = http.StatusGatewayTimeout
		}
		httpError(w, status, "the local app did not answer: %s", a.Error)
		return
	}
	h := w.Header()
	for k, vs := range a.Header {
		h[k] = vs
	}
	wire.StripHopHeaders(h)
	h.Del("Content-Length")
	h.Set(HeaderDelivery, d.ID)
	h.Set("Content-Length", strconv.Itoa(len(a.Body)))
	if _, ok := h["Content-Type"]; !ok {
		h["Content-Type"] = nil // pass the app's answer on as it was: no sniffing
	}
	w.WriteHeader(a.Status)
	w.Write(a.Body)
}

func queued(w http.ResponseWriter, d *wire.Delivery, status int, msg string) {
	w.Header().Set(HeaderDelivery, d.ID)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	state := "queued"
	if status != http.StatusAccepted {
		state = "rejected"
	}
	json.NewEncoder(w).Encode(map[string]string{"id": d.ID, "status": state, "message": msg})
}

// httpError answers with one line of text.
func httpError(w http.ResponseWriter, status int, format string, args ...any) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	fmt.Fprintf(w, "hooktap: "+format+"\n", args...)
}

// expect registers a waiter for the first ack of id.
func (s *Server) expect(id string) <-chan *wire.Ack {
	ch := make(chan *wire.Ack, 1)
	s.mu.Lock()
	s.pending[id] = ch
	s.mu.Unlock()
	return ch
}

func (s *Server) forget(id string) {
	s.mu.Lock()
	delete(s.pending, id)
	s.mu.Unlock()
}

// release tells the sender waiting for id, if any, that no answer is coming
// (a nil ack).
func (s *Server) release(id string) {
	s.mu.Lock()
	ch, ok := s.pending[id]
	if ok {
		delete(s.pending, id)
	}
	s.mu.Unlock()
	if ok {
		ch <- nil
	}
}

// resolve hands an ack to the sender waiting for it, if any; the first ack
// wins.
func (s *Server) resolve(a *wire.Ack) {
	s.mu.Lock()
	ch, ok := s.pending[a.ID]
	if ok {
		delete(s.pending, a.ID)
	}
	s.mu.Unlock()
	if ok {
		ch <- a // buffered, and only ever sent once
	}
}
