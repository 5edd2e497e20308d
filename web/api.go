package web

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/hooktap/hooktap/inspector/live"
	"github.com/hooktap/hooktap/inspector/replay"
	"github.com/hooktap/hooktap/inspector/signing"
	"github.com/hooktap/hooktap/inspector/store"
)

// Page sizes of GET /api/deliveries.
const (
	defaultLimit = 100
	maxLimit     = 1000
)

// maxRequestBody bounds what a resend request may carry.
const maxRequestBody = 10 << 20

type apiError struct {
	Error string `json:"error"`
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.Encode(v)
}

func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, apiError{Error: msg})
}

// storeError answers an error from the store or the sender with its status.
func (s *Server) storeError(w http.ResponseWriter, err error) {
	switch {
	case errors.Is(err, store.ErrNotFound):
		writeError(w, http.StatusNotFound, err.Error())
	case errors.Is(err, store.ErrAmbiguous):
		writeError(w, http.StatusBadRequest, err.Error())
	case errors.Is(err, context.Canceled):
		writeError(w, http.StatusServiceUnavailable, "request canceled")
	default:
		s.log.Error("web inspector", "err", err)
		writeError(w, http.StatusInternalServerError, err.Error())
	}
}

// summary is a delivery in a list: the `events list --json` fields plus seq
// for paging.
type summary struct {
	*store.Delivery
	Seq int64 `json:"seq,omitempty"`
}

func summarize(d *store.Delivery) summary { return summary{Delivery: d, Seq: d.Seq} }

type listResponse struct {
	Deliveries []summary `json:"deliveries"`
	// NextBefore pages on: pass it as before= for older deliveries; 0 when
	// this page is the last.
	NextBefore int64 `json:"next_before"`
	// Hint says when a term of the filter looks like a mistyped key
	// (store.FilterHint): it is searched as text.
	Hint string `json:"hint,omitempty"`
}

func (s *Server) handleList(w http.ResponseWriter, r *http.Request) {
	v := r.URL.Query()
	q, err := store.ParseFilter(v.Get("q"), time.Now())
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	q.Limit = defaultLimit
	if l := v.Get("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 {
			writeError(w, http.StatusBadRequest, "bad limit "+strconv.Quote(l)+": use a number from 1 to "+strconv.Itoa(maxLimit))
			return
		}
		q.Limit = min(n, maxLimit)
	}
	if b := v.Get("before"); b != "" {
		n, err := strconv.ParseInt(b, 10, 64)
		if err != nil || n < 1 {
			writeError(w, http.StatusBadRequest, "bad before "+strconv.Quote(b)+": use the next_before of the previous page")
			return
		}
		q.Before = n
	}
	ds, err := s.store.List(r.Context(), q)
	if err != nil {
		s.storeError(w, err)
		return
	}
	resp := listResponse{Deliveries: make([]summary, len(ds)), Hint: store.FilterHint(v.Get("q"))}
	for i, d := range ds {
		resp.Deliveries[i] = summarize(d)
	}
	if len(ds) == q.Limit {
		resp.NextBefore = ds[len(ds)-1].Seq
	}
	writeJSON(w, http.StatusOK, resp)
}

func (s *Server) handleShow(w http.ResponseWriter, r *http.Request) {
	d, err := s.store.Get(r.Context(), r.PathValue("id"))
	if err != nil {
		s.storeError(w, err)
		return
	}
	if r.URL.Query().Get("download") != "" {
		// A file `hooktap events import` reads back.
		w.Header().Set("Content-Disposition", `attachment; filename="hooktap-`+safeName(d.ID)+`.json"`)
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		enc := json.NewEncoder(w)
		enc.SetEscapeHTML(false)
		enc.SetIndent("", "  ")
		enc.Encode(store.NewRecord(d))
		return
	}
	writeJSON(w, http.StatusOK, store.NewRecord(d))
}

// safeName keeps the characters of s that are safe in a file name.
func safeName(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '-' || r == '_' || r == '.' || ('a' <= r && r <= 'z') || ('A' <= r && r <= 'Z') || ('0' <= r && r <= '9') {
			return r
		}
		return -1
	}, s)
}

// sendResponse answers a replay or resend: the delivery's new summary and
// the attempt, whatever the app answered (an unreachable app is an attempt
// with status 0 and an error, not an API error).
type sendResponse struct {
	Delivery summary             `json:"delivery"`
	Attempt  store.RecordAttempt `json:"attempt"`
}

type replayRequest struct {
	To string `json:"to"`
}

type resendRequest struct {
	To     string   `json:"to"`
	Body   *string  `json:"body"` // the edited body; absent keeps the stored one
	Set    []string `json:"set"`
	NewID  bool     `json:"new_id"`
	Scheme string   `json:"scheme"`
	Secret string   `json:"secret"` // never echoed or logged
}

// decode reads an optional JSON request body into v.
func decode(w http.ResponseWriter, r *http.Request, v any) bool {
	r.Body = http.MaxBytesReader(w, r.Body, maxRequestBody)
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil && !errors.Is(err, io.EOF) {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			writeError(w, http.StatusRequestEntityTooLarge, "request body over 10 MiB")
			return false
		}
		writeError(w, http.StatusBadRequest, "bad request body: "+err.Error())
		return false
	}
	return true
}

func (s *Server) handleReplay(w http.ResponseWriter, r *http.Request) {
	var req replayRequest
	if !decode(w, r, &req) {
		return
	}
	d, a, err := s.sender.Replay(r.Context(), r.PathValue("id"), strings.TrimSpace(req.To))
	s.sent(w, d, a, err)
}

func (s *Server) handleResend(w http.ResponseWriter, r *http.Request) {
	var req resendRequest
	if !decode(w, r, &req) {
		return
	}
	o := replay.ResendOptions{
		To: strings.TrimSpace(req.To), Secret: req.Secret, Scheme: strings.TrimSpace(req.Scheme),
		Set: req.Set, NewID: req.NewID,
	}
	if req.Body != nil {
		if !json.Valid([]byte(*req.Body)) {
			writeError(w, http.StatusBadRequest, "the edited body is not valid JSON")
			return
		}
		o.Body = []byte(*req.Body)
	}
	d, a, err := s.sender.Resend(r.Context(), r.PathValue("id"), o)
	if errors.Is(err, replay.ErrNoSecret) {
		writeError(w, http.StatusUnprocessableEntity,
			"resend needs the signing secret: enter it in the secret field, or start hooktap with --secret or HOOKTAP_SECRET")
		return
	}
	s.sent(w, d, a, err)
}

func (s *Server) sent(w http.ResponseWriter, d *store.Delivery, a *store.Attempt, err error) {
	switch {
	case err == nil:
		writeJSON(w, http.StatusOK, sendResponse{Delivery: summarize(d), Attempt: store.NewRecordAttempt(a)})
	case errors.Is(err, store.ErrNotFound), errors.Is(err, store.ErrAmbiguous), a != nil:
		// a != nil: the attempt was made but could not be recorded.
		s.storeError(w, err)
	case errors.Is(err, signing.ErrUnknownScheme):
		writeError(w, http.StatusBadRequest, err.Error())
	default:
		// A bad target URL, a delivery never forwarded and no target, a bad
		// --set: the request needs changing.
		writeError(w, http.StatusBadRequest, strings.ReplaceAll(err.Error(), "--to URL", "a target URL"))
	}
}

type statusResponse struct {
	Version    string    `json:"version"`
	Live       bool      `json:"live"` // /api/events streams new deliveries
	Conn       *connJSON `json:"conn,omitempty"`
	App        *appJSON  `json:"app,omitempty"` // once the agent checked the forward target
	Deliveries int64     `json:"deliveries"`
	HasSecret  bool      `json:"has_secret"` // resend can sign without a secret in the request
	Schemes    []string  `json:"schemes"`
	DB         string    `json:"db"`
	// ProviderPage is hooktap dev's provider emulator page: its
	// subscriptions and delivery log.
	ProviderPage string `json:"provider_page,omitempty"`
	// While the agent's store cannot write (a full disk): why, since when,
	// and how many deliveries the agent holds meanwhile.
	StoreError   string     `json:"store_error,omitempty"`
	StoreCause   string     `json:"store_cause,omitempty"` // short: "disk full", or the error
	StoreSince   *time.Time `json:"store_error_since,omitempty"`
	StoreWaiting int        `json:"store_waiting,omitempty"`
}

type connJSON struct {
	State   string     `json:"state"`
	Relay   string     `json:"relay,omitempty"`
	URL     string     `json:"url,omitempty"`
	Target  string     `json:"target,omitempty"`
	Routes  []string   `json:"routes,omitempty"`
	RetryAt *time.Time `json:"retry_at,omitempty"`
	Error   string     `json:"error,omitempty"`
	Reason  string     `json:"reason,omitempty"` // the error in a few words
	// The last heartbeat the relay answered, its age and round trip;
	// stalled while the relay stopped answering them.
	HeartbeatAt    *time.Time `json:"heartbeat_at,omitempty"`
	HeartbeatAgeMS *int64     `json:"heartbeat_age_ms,omitempty"`
	RTTMS          float64    `json:"rtt_ms,omitempty"`
	Stalled        bool       `json:"stalled,omitempty"`
	// Commands to paste in a shell to send a first webhook to URL.
	TryCurl    string `json:"try_curl,omitempty"`
	TryTrigger string `json:"try_trigger,omitempty"`
}

func connOf(c live.RelayStatus, tryIt func(string) (string, string)) *connJSON {
	if c.State == "" {
		return nil
	}
	j := &connJSON{State: string(c.State), Relay: c.Relay, URL: c.URL, Target: c.Target, Routes: c.Routes, Error: c.Err, Reason: c.Reason}
	if !c.RetryAt.IsZero() {
		t := c.RetryAt
		j.RetryAt = &t
	}
	if c.URL != "" {
		j.TryCurl, j.TryTrigger = tryIt(c.URL)
	}
	if !c.Heartbeat.IsZero() {
		t, age := c.Heartbeat, time.Since(c.Heartbeat).Milliseconds()
		j.HeartbeatAt, j.HeartbeatAgeMS = &t, &age
	}
	j.RTTMS, j.Stalled = float64(c.RTT.Microseconds())/1000, c.Stalled
	return j
}

// appJSON is whether the app listens on the forward target.
type appJSON struct {
	Target    string     `json:"target"`
	Addr      string     `json:"addr"`
	Listening bool       `json:"listening"`
	Error     string     `json:"error,omitempty"`   // why not: "connection refused", ...
	Problem   string     `json:"problem,omitempty"` // what to say, and do, while down
	Since     *time.Time `json:"since,omitempty"`   // when listening last changed
	// The app's last answer (0: none), and over the last minute the
	// forwards and those that got no 2xx.
	LastStatus  int        `json:"last_status,omitempty"`
	LastAt      *time.Time `json:"last_at,omitempty"`
	Forwards1m  int        `json:"forwards_1m"`
	Failures1m  int        `json:"failures_1m"`
	ErrorRate1m float64    `json:"error_rate_1m"`
}

func appOf(h live.AppHealth) *appJSON {
	if !h.Checked {
		return nil
	}
	t := h.Since
	j := &appJSON{Target: h.Target, Addr: h.Addr, Listening: h.Listening, Error: h.Err, Problem: h.Problem(), Since: &t,
		LastStatus: h.LastStatus, Forwards1m: h.Forwards, Failures1m: h.Failures, ErrorRate1m: h.ErrorRate()}
	if !h.LastAt.IsZero() {
		at := h.LastAt
		j.LastAt = &at
	}
	return j
}

// storeJSON is the store's health in the live event "store".
type storeJSON struct {
	Error   string     `json:"error,omitempty"` // "" while the store writes
	Cause   string     `json:"cause,omitempty"` // short: "disk full", or the error
	Since   *time.Time `json:"since,omitempty"`
	Waiting int        `json:"waiting,omitempty"`
}

func storeOf(h live.StoreHealth) *storeJSON {
	j := &storeJSON{Error: h.Err, Cause: h.Cause(), Waiting: h.Waiting}
	if h.Failing() {
		t := h.Since
		j.Since = &t
	}
	return j
}

func (s *Server) handleStatus(w http.ResponseWriter, r *http.Request) {
	n, err := s.store.Count(r.Context())
	if err != nil {
		s.storeError(w, err)
		return
	}
	st := statusResponse{
		Version: s.version, Live: s.bus != nil, Deliveries: n, HasSecret: s.sender.Secret != "",
		Schemes: signing.Names(), DB: s.store.Path(), ProviderPage: s.providerPage,
	}
	if s.conn != nil {
		st.Conn = connOf(s.conn(), s.tryIt)
	}
	if s.bus != nil {
		st.App = appOf(s.bus.App())
		h := storeOf(s.bus.Store())
		st.StoreError, st.StoreCause, st.StoreSince, st.StoreWaiting = h.Error, h.Cause, h.Since, h.Waiting
	}
	writeJSON(w, http.StatusOK, st)
}
