// Package store keeps what the agent receives: every delivery and every
// attempt to send it, in SQLite (one batching writer, parallel readers),
// with a full-text index in a file of its own; the filter language and
// queries over them; export, import and HAR; retention; and the
// presentations of a delivery that the CLI, the TUI and the web inspector
// share (its JSON record, where it goes, copy-as-curl).
package store

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/hooktap/hooktap/inspector/signing"
	"github.com/hooktap/hooktap/relay/payload"
	"github.com/hooktap/hooktap/relay/wire"
)

// Kind says how an attempt came about.
type Kind string

// Attempt kinds.
const (
	KindForward Kind = "forward" // the agent forwarded a delivery it received
	KindReplay  Kind = "replay"  // sent again as stored
	KindResend  Kind = "resend"  // sent again re-signed, maybe edited
)

// Delivery is one webhook request as it reached the relay, what it is
// about, and a summary of its latest attempt. The JSON form is the one
// `events list --json` prints.
type Delivery struct {
	Seq        int64       `json:"-"`
	ID         string      `json:"id"`
	Channel    string      `json:"channel,omitempty"`
	RelaySeq   int64       `json:"-"`
	ReceivedAt time.Time   `json:"received_at"`
	Method     string      `json:"method"`
	Path       string      `json:"path"`
	Query      string      `json:"query,omitempty"`
	Header     http.Header `json:"-"`
	Body       []byte      `json:"-"`
	RemoteAddr string      `json:"-"`
	Host       string      `json:"-"`
	Proto      string      `json:"-"`

	ObjectType string `json:"object_type"`
	Action     string `json:"action"`
	EntityID   string `json:"entity_id"`
	ObjectID   string `json:"object_id"`
	EventID    string `json:"event_id,omitempty"`

	Scheme          string        `json:"scheme,omitempty"`
	Signature       signing.State `json:"signature"`
	SignatureReason string        `json:"signature_reason,omitempty"`

	// Latest attempt. Status is 0 when the app gave no HTTP answer (Error
	// says why) or when the delivery was not forwarded yet (Attempts == 0).
	Status     int     `json:"status"`
	Error      string  `json:"error,omitempty"`
	DurationMS float64 `json:"duration_ms"`
	Attempts   int     `json:"attempts"`
	Target     string  `json:"target,omitempty"`
	// Elsewhere is the latest replay or resend sent to another target
	// than the one the row is tied to (see Ties); nil when none was.
	Elsewhere *Elsewhere `json:"last_elsewhere,omitempty"`

	// History holds every attempt, oldest first; filled by Store.Get only.
	History []*Attempt `json:"-"`
}

// Attempt is one sending of a delivery to an app.
type Attempt struct {
	ID         int64
	DeliveryID string
	Kind       Kind
	Target     string // full URL
	StartedAt  time.Time
	Duration   time.Duration
	// Request differs from the delivery's for resends; nil means "as stored".
	RequestHeader http.Header
	RequestBody   []byte
	Status        int // 0: no HTTP answer, see Error
	Header        http.Header
	Body          []byte
	Error         string
	Timeout       bool
}

// Elsewhere is an attempt sent to another target than a delivery's own:
// shown apart ("last: replay → URL 200"), it leaves the delivery's status
// and target those of the original forward.
type Elsewhere struct {
	Kind   Kind   `json:"kind"`
	Target string `json:"target"`
	Status int    `json:"status"` // 0: no answer, see error
	Error  string `json:"error,omitempty"`
}

// String is how the UIs show e apart from the row: "replay → URL 500",
// or the error when the app gave no answer.
func (e *Elsewhere) String() string {
	result := e.Error
	if e.Status != 0 {
		result = strconv.Itoa(e.Status)
	}
	return strings.TrimSpace(fmt.Sprintf("%s → %s %s", e.Kind, e.Target, result))
}

// Ties reports whether attempt a becomes the latest of a delivery whose
// row is tied to target: every forward does, and a replay or resend does
// when it went to that target (or the delivery has none yet). A replay to
// another URL (--to) is kept apart instead, so that trying a payload
// against a second app does not repaint the row of the first.
func Ties(target string, a *Attempt) bool {
	return a.Kind == KindForward || target == "" || a.Target == target
}

// Latest is the attempt d's summary shows: the last one that tied to its
// target (see Ties); nil when there is none.
func (d *Delivery) Latest() *Attempt {
	var sum Delivery
	var latest *Attempt
	for _, a := range d.History {
		if Ties(sum.Target, a) {
			latest = a
		}
		sum.Apply(a)
	}
	return latest
}

// Apply makes a the latest attempt of d's summary, or d's Elsewhere when a
// does not tie to d's target.
func (d *Delivery) Apply(a *Attempt) {
	d.Attempts++
	if !Ties(d.Target, a) {
		d.Elsewhere = &Elsewhere{Kind: a.Kind, Target: a.Target, Status: a.Status, Error: a.Error}
		return
	}
	d.Status, d.Error, d.DurationMS, d.Target = a.Status, a.Error, a.DurationMS(), a.Target
}

// DurationMS is the attempt's duration in milliseconds.
func (a *Attempt) DurationMS() float64 { return float64(a.Duration.Microseconds()) / 1000 }

// FromWire turns a relay delivery into a record, reading the event fields
// from its body and headers.
func FromWire(w *wire.Delivery) *Delivery {
	var f payload.Fields
	if w.Fields != nil {
		f = *w.Fields // the relay read them already
	} else {
		f = payload.Parse(w.Header, w.Body)
	}
	return &Delivery{
		ID:         w.ID,
		Channel:    w.Channel,
		RelaySeq:   w.Seq,
		ReceivedAt: w.ReceivedAt,
		Method:     w.Method,
		Path:       w.Path,
		Query:      w.Query,
		Header:     w.Header,
		Body:       w.Body,
		RemoteAddr: w.RemoteAddr,
		Host:       w.Host,
		Proto:      w.Proto,
		ObjectType: f.ObjectType,
		Action:     f.Action,
		EntityID:   f.EntityID,
		ObjectID:   f.ObjectID,
		EventID:    f.EventID,
		Signature:  signing.Unsigned,
	}
}

// StatusClass is "2xx".."5xx", "error" for no answer, or "pending".
func (d *Delivery) StatusClass() string {
	switch {
	case d.Attempts == 0:
		return "pending"
	case d.Status == 0:
		return "error"
	default:
		return string('0'+byte(d.Status/100)) + "xx"
	}
}

// Verify checks d's signature with secret, as of the moment it was
// received, and records the verdict in d. With an empty secret, signed
// deliveries are marked no-secret and unsigned ones unsigned.
func (d *Delivery) Verify(secret string) {
	r := signing.Verify(d.Header, d.Body, secret, d.ReceivedAt)
	d.Scheme, d.Signature, d.SignatureReason = r.Scheme, r.State, r.Reason
}

// Summary is a copy of d without header, body or history, safe to hand to
// other goroutines.
func (d *Delivery) Summary() *Delivery {
	c := *d
	c.Header, c.Body, c.History = nil, nil, nil
	return &c
}
