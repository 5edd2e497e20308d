package relay

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/hooktap/hooktap/relay/payload"
	"github.com/hooktap/hooktap/relay/wire"
)

// MaxHops is how many hooktap agents may have forwarded a request before a
// relay takes it (told by Via): two tunnels in a row are allowed, a third
// is a --forward-to that points back at a relay.
const MaxHops = 2

// HeaderDelivery names the delivery in every answer the relay gives.
const HeaderDelivery = "X-Hooktap-Delivery"

// ingress takes a webhook request for /h/{channel}: it keeps it in the
// buffer, offers it to the channel's agents and answers the sender. It
// returns the delivery's event, for the channel page ("" when unknown).
func (s *Server) ingress(w http.ResponseWriter, r *http.Request) (action string) {
	name := r.PathValue("channel")
	if !ValidChannel(name) {
		httpError(w, http.StatusNotFound, "unknown channel %q: names are 1-64 letters, digits, '.', '_' or '-'", name)
		return ""
	}
	switch {
	case !wire.ValidMethod(r.Method):
		httpError(w, http.StatusBadRequest, "bad method: methods are 1-32 letters, digits, '-' or '_'")
		return ""
	case r.Method == http.MethodConnect:
		httpError(w, http.StatusMethodNotAllowed, "CONNECT asks a proxy for a tunnel, and a webhook URL is not one")
		return ""
	case r.Method == http.MethodTrace:
		httpError(w, http.StatusMethodNotAllowed, "TRACE is not forwarded: echoing requests back only helps cross-site tracing")
		return ""
	case wire.Hops(r.Header) >= MaxHops:
		// Via is also kept when a recorded request is copied (curl, a
		// fixture edited by hand), so the message names that cause too.
		httpError(w, http.StatusLoopDetected, "this request has been through %d hooktap agents already (its Via header; a relay takes at most %d): "+
			"an agent's --forward-to or --route points back at a relay (a loop), more than %d hooktap tunnels are chained, "+
			"or the request carries a Via header copied from one that went through hooktap", wire.Hops(r.Header), MaxHops-1, MaxHops)
		return ""
	}
	if !s.writes.ok() {
		// Nothing is published: what is proposed without a majority may
		// commit once it is back, after its sender was told to retry.
		w.Header().Set("Retry-After", "5")
		httpError(w, http.StatusServiceUnavailable, "%s", msgNoMajority)
		return ""
	}
	body, room, ok := s.readBody(w, r, name)
	if !ok {
		return ""
	}
	acc, err := s.accept(r, name, body)
	room.Close() // committed (or failed): the buffer holds it now, not this request
	defer s.forget(acc.id)
	switch {
	case err != nil:
		if ok, held := s.storeErrs.allow(time.Now()); ok {
			s.log.Error("store delivery", "channel", name, "err", err, "more_not_logged", held)
		}
		withdrawn := errors.Is(err, errWithdrawn)
		if withdrawn {
			// Stored and republished before it was withdrawn: an agent
			// this node did not count (its presence was behind) may
			// have it, and its answer is then the truth.
			acc.live = max(acc.live, 1)
		}
		s.answerUnstored(w, r, acc, withdrawn)
	case acc.live == 0:
		s.answerKept(w, acc)
	default:
		s.await(w, r, acc)
	}
	return acc.action
}

// readBody reads the request's body within the relay's memory budgets
// (budget.go). A request waits for room as long as a sender waits for an
// answer; then it gets 503 and is kept nowhere. The caller closes room once
// the body is committed.
func (s *Server) readBody(w http.ResponseWriter, r *http.Request, channel string) (body []byte, room *bodyReader, ok bool) {
	if r.ContentLength > s.cfg.MaxBody {
		httpError(w, http.StatusRequestEntityTooLarge, "body larger than %d bytes", s.cfg.MaxBody)
		return nil, nil, false
	}
	ctx, cancel := context.WithTimeout(r.Context(), s.cfg.ResponseTimeout)
	defer cancel()
	room = s.bodies.body(ctx, channel, http.MaxBytesReader(w, r.Body, s.cfg.MaxBody))
	body, err := readAll(room, r.ContentLength)
	if err == nil {
		return body, room, true
	}
	room.Close()
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		httpError(w, http.StatusRequestEntityTooLarge, "body larger than %d bytes", s.cfg.MaxBody)
	case errors.Is(err, errBusy) && r.Context().Err() == nil:
		w.Header().Set("Retry-After", "5")
		httpError(w, http.StatusServiceUnavailable, "the relay is busy with large requests; retry later")
	case r.Context().Err() == nil:
		httpError(w, http.StatusBadRequest, "read body: %v", err)
	}
	return nil, nil, false
}

// readAll reads a body of n bytes (n < 0: unknown). A known length is
// taken up to a first quarter MiB at once, and the rest as it arrives, so
// that a sender that announces megabytes and trickles them holds only what
// it sent.
func readAll(r io.Reader, n int64) ([]byte, error) {
	if n < 0 {
		return io.ReadAll(r)
	}
	b := make([]byte, 0, min(n, 256<<10))
	for int64(len(b)) < n {
		if len(b) == cap(b) {
			b = slices.Grow(b, int(min(n, 2*int64(cap(b))))-len(b))
		}
		m, err := r.Read(b[len(b):min(int64(cap(b)), n)])
		b = b[:len(b)+m]
		if err == io.EOF {
			if int64(len(b)) < n {
				return nil, io.ErrUnexpectedEOF
			}
			break
		}
		if err != nil {
			return nil, err
		}
	}
	return b, nil
}

// accepted is what ingress keeps of a delivery once the buffer has it: not
// the delivery itself, so that its body is free to go once the agents'
// queues let go of it.
type accepted struct {
	id, channel string
	seq         int64
	action      string
	// How many agents are connected to the channel, how many subscribe to
	// the delivery's event, and how many took it live.
	connected, matched, live int
	wait                     <-chan *wire.Ack // the first agent's answer
	// The sender's answer is due by then: --response-timeout from when the
	// relay had the body, however long storing it took (a cluster's
	// publish retries through an election).
	due time.Time
}

// accept gives the request an id, commits it to the buffer and offers it to
// the channel's agents.
func (s *Server) accept(r *http.Request, channel string, body []byte) (accepted, error) {
	// From here to Append, this delivery is a write on its way.
	s.expectWrite(1)
	hdr := r.Header.Clone()
	wire.StripHopHeaders(hdr)
	proto := "http"
	if r.TLS != nil {
		proto = "https"
	}
	d := &wire.Delivery{
		ID:         newID(),
		Channel:    channel,
		ReceivedAt: time.Now().UTC(),
		Method:     r.Method,
		Path:       pathSuffix(r, channel),
		Query:      r.URL.RawQuery,
		Header:     hdr,
		Body:       body,
		RemoteAddr: remoteIP(r),
		Host:       r.Host,
		Proto:      proto,
	}
	f := payload.Parse(hdr, body)
	d.Fields = &f
	acc := accepted{id: d.ID, channel: channel, action: f.Action, wait: s.expect(d.ID), due: time.Now().Add(s.cfg.ResponseTimeout)}
	var c *commit
	// Published in seq order as soon as the write is on its way: the agent
	// works while the relay commits; the sender's answer waits for both.
	publish := func() (unmatched bool, send func()) {
		if s.signals != nil {
			// The agents of every node get it from the stream (cluster.go).
			acc.connected, acc.matched = s.signals.Reach(channel, EventOf(&f))
			acc.live = acc.matched
			return acc.matched == 0, nil
		}
		c = newCommit()
		var took sessions
		acc.connected, acc.matched, acc.live, took = s.publish(d, EventOf(&f), c)
		return acc.matched == 0, took.wake
	}
	s.expectWrite(-1)
	err := s.store.Append(r.Context(), d, publish)
	acc.seq = d.Seq
	if c != nil {
		// Sessions that have not sent it yet now never will if it failed:
		// only the agents that have it can answer for it.
		if sent := c.settle(err); err != nil {
			acc.live = sent
		}
	}
	if err != nil && s.signals == nil {
		s.hold() // the disk fails: send the next ones only once committed
	}
	s.scheduleFlush() // its claim is written if no agent acks it soon
	return acc, err
}

// answerKept answers a delivery that no agent took live: it is kept for the
// next one, or, with --offline-status 503 and nobody connected, dropped so
// that the sender retries.
func (s *Server) answerKept(w http.ResponseWriter, acc accepted) {
	name := acc.channel
	if acc.connected == 0 && s.cfg.OfflineStatus == http.StatusServiceUnavailable {
		// The sender will retry; its retry is the copy that counts.
		s.store.Forget(acc.channel, acc.seq)
		w.Header().Set("Retry-After", "10")
		queued(w, acc.id, http.StatusServiceUnavailable, "no agent is connected to channel "+name+"; retry later")
		return
	}
	msg := "no agent is connected to channel " + name + "; kept for the next one that connects"
	switch {
	case acc.connected > 0 && acc.matched == 0:
		msg = "no agent on channel " + name + " subscribes to this event; kept for those that do"
	case acc.connected > 0:
		msg = "the agents on channel " + name + " are busy; kept and delivered in order"
	}
	queued(w, acc.id, http.StatusAccepted, msg)
}

// await answers with the first agent's answer, or 202 when none comes in
// time: the delivery is kept and delivered later.
func (s *Server) await(w http.ResponseWriter, r *http.Request, acc accepted) {
	timer := time.NewTimer(time.Until(acc.due))
	defer timer.Stop()
	var ack *wire.Ack
	select {
	case ack = <-acc.wait: // an answer already there wins over a timer already due
	default:
		select {
		case ack = <-acc.wait:
		case <-timer.C:
			queued(w, acc.id, http.StatusAccepted, "the agent did not answer within "+s.cfg.ResponseTimeout.String()+"; kept and delivered")
			return
		case <-r.Context().Done():
			return
		}
	}
	if ack == nil {
		queued(w, acc.id, http.StatusAccepted, "the agent disconnected; kept and delivered when it is back")
		return
	}
	s.reply(w, r, acc.id, ack)
}

// answerUnstored answers a delivery the buffer failed to commit. An agent
// may have been sent it already (deliveries are published while they are
// committed): then its answer, which comes only once the agent has
// forwarded and stored it, is the truth to tell; else the sender must
// retry, and no agent gets it (commit.go).
func (s *Server) answerUnstored(w http.ResponseWriter, r *http.Request, acc accepted, withdrawn bool) {
	unstored := func() {
		w.Header().Set("Retry-After", "10")
		httpError(w, http.StatusServiceUnavailable, "the relay could not store the delivery; retry later")
	}
	if acc.live == 0 {
		unstored()
		return
	}
	// The agent's answer is the truth, however long the app takes: a 503
	// would make the sender retry what the app has. On a single relay an
	// agent that was sent it answers once the deliveries before it in its
	// window are done (agentAnswerWait each, a few in a row); on a cluster
	// a withdrawn delivery was in the stream, and an agent may have it. A
	// failed publish is only rarely in the stream after all (a leader
	// elected late), and no agent answers for it: its sender hears 503
	// when its answer is due (an outside tester saw 18 s with a 3 s
	// --response-timeout, waiting for an answer that never comes). Once
	// the node knows it has no majority, none will in time (quorum.go),
	// and the sender is told at once.
	var wait time.Duration
	switch {
	case s.signals == nil:
		wait = unstoredWait
	case withdrawn:
		wait = max(s.cfg.ResponseTimeout, agentAnswerWait)
	default:
		wait = max(time.Until(acc.due), 0)
	}
	answered := func(ack *wire.Ack) {
		if ack == nil {
			unstored() // the agent left without answering
			return
		}
		s.reply(w, r, acc.id, ack) // the agent has it stored
	}
	select {
	case ack := <-acc.wait: // an answer already there wins over a wait already over
		answered(ack)
		return
	default:
	}
	timer := time.NewTimer(wait)
	defer timer.Stop()
	select {
	case ack := <-acc.wait:
		answered(ack)
	case <-timer.C:
		unstored()
	case <-s.writes.cannot():
		w.Header().Set("Retry-After", "5")
		httpError(w, http.StatusServiceUnavailable, "%s", msgNoMajority)
	case <-r.Context().Done():
	case <-s.ctx.Done():
		unstored()
	}
}

// urlSecretValue names the path value that holds the URL secret a request
// was let in with (ingressAllowed); it is not part of the path suffix.
const urlSecretValue = "hooktap.url-secret"

// pathSuffix is the escaped path after /h/{channel} and the channel's URL
// secret, if any: "" or starting with "/".
func pathSuffix(r *http.Request, channel string) string {
	p := r.URL.EscapedPath()
	prefix := "/h/" + channel
	if secret := r.PathValue(urlSecretValue); secret != "" {
		prefix += "/" + secret
	}
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

// agentAnswerWait is how long an agent takes at most to answer for a
// delivery it took: the app's 10 s, and its record.
const agentAnswerWait = 15 * time.Second

// unstoredWait bounds how long a sender waits for the answer of an agent
// that was sent a delivery the relay could not commit.
const unstoredWait = 2 * time.Minute

// reply passes the app's answer, as the agent reported it, to the sender
// of r.
func (s *Server) reply(w http.ResponseWriter, r *http.Request, id string, a *wire.Ack) {
	w.Header().Set(HeaderDelivery, id)
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
	h.Set(HeaderDelivery, id)
	if r.Method != http.MethodHead || h.Get("Content-Length") == "" {
		// An answer to HEAD keeps the length of the body it does not send.
		h.Set("Content-Length", strconv.Itoa(len(a.Body)))
	}
	if _, ok := h["Content-Type"]; !ok {
		h["Content-Type"] = nil // pass the app's answer on as it was: no sniffing
	}
	w.WriteHeader(a.Status)
	w.Write(a.Body)
}

func queued(w http.ResponseWriter, id string, status int, msg string) {
	w.Header().Set(HeaderDelivery, id)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	state := "queued"
	if status != http.StatusAccepted {
		state = "rejected"
	}
	json.NewEncoder(w).Encode(map[string]string{"id": id, "status": state, "message": msg})
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
