package store

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/hooktap/hooktap/relay/wire"
)

// Record is a delivery in full, as JSON: what `events show --json` prints,
// what the web inspector's API answers for one delivery, and what `events
// export` writes (one per line) and `events import` reads back. It holds the
// summary fields of `events list --json` (the latest attempt's status,
// duration_ms, attempts, ...), what came in (headers and body, byte for
// byte), and every attempt with the app's answer.
//
// Bodies are text when they are UTF-8 ("body_encoding": "text"), else
// base64; a body that was never there is null. A header whose values are
// not all UTF-8 (HTTP allows other bytes) is under headers_base64, every
// value of it in base64, so that its bytes survive JSON. Import rebuilds
// the summary from the history.
type Record struct {
	Delivery       // the summary: id, received_at, method, path, ..., status, attempts
	RelaySeq int64 `json:"relay_seq,omitempty"`
	// A path or query with bytes that are not UTF-8 (a URL may carry them
	// raw) is here in base64, and "" in path or query.
	PathBase64  string `json:"path_base64,omitempty"`
	QueryBase64 string `json:"query_base64,omitempty"`
	RemoteAddr  string `json:"remote_addr,omitempty"`
	Host        string `json:"host,omitempty"`
	Proto       string `json:"proto,omitempty"`
	// What came in, as in a Message.
	Headers       http.Header     `json:"headers"`
	HeadersBase64 http.Header     `json:"headers_base64,omitempty"`
	Body          *string         `json:"body"`
	BodyEncoding  string          `json:"body_encoding,omitempty"`
	BodySize      int             `json:"body_size"`
	History       []RecordAttempt `json:"history"`
}

// message is what came in, as a Message.
func (r *Record) message() Message {
	return Message{Headers: r.Headers, HeadersBase64: r.HeadersBase64, Body: r.Body, BodyEncoding: r.BodyEncoding, BodySize: r.BodySize}
}

// Message is the headers and body of a request or an answer.
type Message struct {
	Headers       http.Header `json:"headers"`
	HeadersBase64 http.Header `json:"headers_base64,omitempty"`
	Body          *string     `json:"body"`
	BodyEncoding  string      `json:"body_encoding,omitempty"` // "text" or "base64"
	BodySize      int         `json:"body_size"`
}

// RecordAttempt is one sending of a delivery and the app's answer.
// Request is there only when the attempt sent something else than the
// stored delivery (a resend: a new signature, maybe an edited body).
type RecordAttempt struct {
	ID     int64  `json:"id,omitempty"`
	Kind   Kind   `json:"kind"`
	Target string `json:"target"`
	// TargetBase64 holds a target with bytes that are not UTF-8.
	TargetBase64 string    `json:"target_base64,omitempty"`
	StartedAt    time.Time `json:"started_at"`
	DurationMS   float64   `json:"duration_ms"`
	Status       int       `json:"status"` // 0: no answer, see error
	Error        string    `json:"error,omitempty"`
	Timeout      bool      `json:"timeout,omitempty"`
	Request      *Message  `json:"request,omitempty"`
	Response     Message   `json:"response"`
}

// NewRecord is the record of a full delivery (from Get or Each).
func NewRecord(d *Delivery) *Record {
	m := newMessage(d.Header, d.Body)
	r := &Record{
		Delivery: *d.Summary(), RelaySeq: d.RelaySeq, RemoteAddr: d.RemoteAddr, Host: d.Host, Proto: d.Proto,
		Headers: m.Headers, HeadersBase64: m.HeadersBase64, Body: m.Body, BodyEncoding: m.BodyEncoding, BodySize: m.BodySize,
		History: make([]RecordAttempt, 0, len(d.History)),
	}
	r.Delivery.ReceivedAt = d.ReceivedAt.UTC()
	r.Delivery.Path, r.PathBase64 = rawString(d.Path)
	r.Delivery.Query, r.QueryBase64 = rawString(d.Query)
	for _, a := range d.History {
		r.History = append(r.History, NewRecordAttempt(a))
	}
	return r
}

// NewRecordAttempt is the record of one attempt.
func NewRecordAttempt(a *Attempt) RecordAttempt {
	ra := RecordAttempt{
		ID: a.ID, Kind: a.Kind, StartedAt: a.StartedAt.UTC(), DurationMS: a.DurationMS(),
		Status: a.Status, Error: a.Error, Timeout: a.Timeout, Response: newMessage(a.Header, a.Body),
	}
	ra.Target, ra.TargetBase64 = rawString(a.Target)
	if a.RequestHeader != nil || a.RequestBody != nil {
		m := newMessage(a.RequestHeader, a.RequestBody)
		ra.Request = &m
	}
	return ra
}

// rawString is s as JSON can hold it: as it is when it is UTF-8, else ""
// and s in base64.
func rawString(s string) (text, b64 string) {
	if utf8.ValidString(s) {
		return s, ""
	}
	return "", base64.StdEncoding.EncodeToString([]byte(s))
}

// fromRaw reverses rawString.
func fromRaw(text, b64, what string) (string, error) {
	if b64 == "" {
		return text, nil
	}
	if text != "" {
		return "", fmt.Errorf("%s: both as text and in base64", what)
	}
	b, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		return "", fmt.Errorf("%s: bad base64: %w", what, err)
	}
	return string(b), nil
}

func newMessage(h http.Header, body []byte) Message {
	m := Message{BodySize: len(body)}
	m.Headers, m.HeadersBase64 = encodeHeader(h) // nil stays null: a request as stored
	m.Body, m.BodyEncoding = encodeBody(body)
	return m
}

func encodeBody(b []byte) (*string, string) {
	if b == nil {
		return nil, ""
	}
	if utf8.Valid(b) {
		s := string(b)
		return &s, "text"
	}
	s := base64.StdEncoding.EncodeToString(b)
	return &s, "base64"
}

// decodeRecord reads one record, of either shape: a Record, or a
// legacyRecord (exports made before the record had one shape; their
// "attempts" is a list, and their headers are under "header", which a
// Record would silently drop).
func decodeRecord(line []byte) (*Delivery, error) {
	d, err := decodeRecordFields(line)
	if err != nil {
		return nil, err
	}
	if err := checkRequest(d); err != nil {
		return nil, fmt.Errorf("delivery %s: %w", d.ID, err)
	}
	return d, nil
}

// checkRequest refuses a request that replay and resend could not send
// again: the method the relay would have refused, a header that net/http
// would refuse (or that would split the request if it did not).
func checkRequest(d *Delivery) error {
	if !wire.ValidMethod(d.Method) {
		return fmt.Errorf("bad method %q: methods are 1-32 letters, digits, '-' or '_'", d.Method)
	}
	for name, vs := range d.Header {
		if !wire.ValidHeaderName(name) {
			return fmt.Errorf("bad header name %q: names are letters, digits and !#$%%&'*+-.^_`|~", name)
		}
		for _, v := range vs {
			if !wire.ValidHeaderValue(v) {
				return fmt.Errorf("bad %s header: a value may not hold CR, LF or NUL", name)
			}
		}
	}
	return nil
}

func decodeRecordFields(line []byte) (*Delivery, error) {
	var probe struct {
		Attempts     json.RawMessage `json:"attempts"`
		Header       json.RawMessage `json:"header"`
		HeaderBase64 json.RawMessage `json:"header_base64"`
	}
	if err := json.Unmarshal(line, &probe); err != nil {
		return nil, err
	}
	a := bytes.TrimSpace(probe.Attempts)
	if len(a) > 0 && a[0] == '[' || probe.Header != nil || probe.HeaderBase64 != nil {
		var lr legacyRecord
		if err := json.Unmarshal(line, &lr); err != nil {
			return nil, err
		}
		return lr.delivery()
	}
	var r Record
	if err := json.Unmarshal(line, &r); err != nil {
		return nil, err
	}
	return r.decode()
}

// decode turns r back into a delivery with its history, checking what
// import needs.
func (r *Record) decode() (*Delivery, error) {
	if err := checkDelivery(r.ID, r.Method, r.ReceivedAt); err != nil {
		return nil, err
	}
	d := r.Delivery
	d.RelaySeq, d.RemoteAddr, d.Host, d.Proto = r.RelaySeq, r.RemoteAddr, r.Host, r.Proto
	d.ReceivedAt = d.ReceivedAt.UTC()
	d.Status, d.Error, d.DurationMS, d.Attempts, d.Target, d.Elsewhere = 0, "", 0, 0, "", nil // import rebuilds them
	var err error
	if d.Path, err = fromRaw(r.Delivery.Path, r.PathBase64, "delivery "+r.ID+" path"); err != nil {
		return nil, err
	}
	if d.Query, err = fromRaw(r.Delivery.Query, r.QueryBase64, "delivery "+r.ID+" query"); err != nil {
		return nil, err
	}
	if d.Header, d.Body, err = r.message().decode("delivery " + r.ID); err != nil {
		return nil, err
	}
	for i, ra := range r.History {
		if err := checkAttempt(r.ID, i, ra.Kind, ra.StartedAt); err != nil {
			return nil, err
		}
		a := &Attempt{
			DeliveryID: r.ID, Kind: ra.Kind, StartedAt: ra.StartedAt.UTC(),
			Duration: time.Duration(math.Round(ra.DurationMS*1000)) * time.Microsecond, Status: ra.Status, Error: ra.Error,
		}
		what := fmt.Sprintf("delivery %s attempt %d", r.ID, i+1)
		if a.Target, err = fromRaw(ra.Target, ra.TargetBase64, what+" target"); err != nil {
			return nil, err
		}
		if a.Header, a.Body, err = ra.Response.decode(what + " response"); err != nil {
			return nil, err
		}
		if ra.Request != nil {
			if a.RequestHeader, a.RequestBody, err = ra.Request.decode(what + " request"); err != nil {
				return nil, err
			}
		}
		d.History = append(d.History, a)
	}
	return &d, nil
}

func (m Message) decode(what string) (http.Header, []byte, error) {
	h, err := decodeHeader(m.Headers, m.HeadersBase64, what+" headers")
	if err != nil {
		return nil, nil, err
	}
	b, err := decodeBody(m.Body, m.BodyEncoding, what+" body")
	return h, b, err
}

func checkDelivery(id, method string, receivedAt time.Time) error {
	if strings.TrimSpace(id) == "" {
		return errors.New("delivery without an id")
	}
	if method == "" || receivedAt.IsZero() {
		return fmt.Errorf("delivery %s: method and received_at are required", id)
	}
	return nil
}

func checkAttempt(id string, i int, kind Kind, startedAt time.Time) error {
	switch kind {
	case KindForward, KindReplay, KindResend:
	default:
		return fmt.Errorf("delivery %s attempt %d: unknown kind %q", id, i+1, kind)
	}
	if startedAt.IsZero() {
		return fmt.Errorf("delivery %s attempt %d: started_at is required", id, i+1)
	}
	return nil
}

func decodeBody(s *string, enc, what string) ([]byte, error) {
	if s == nil {
		return nil, nil
	}
	switch enc {
	case "", "text":
		return []byte(*s), nil
	case "base64":
		b, err := base64.StdEncoding.DecodeString(*s)
		if err != nil {
			return nil, fmt.Errorf("%s: bad base64: %w", what, err)
		}
		return b, nil
	}
	return nil, fmt.Errorf("%s: unknown encoding %q (want text or base64)", what, enc)
}

// encodeHeader splits h into the headers JSON holds as they are and, in
// base64, those with a value that is not UTF-8 (nil when there are none,
// the common case, which costs no copy). Names stay as they are: HTTP
// makes them tokens, which are ASCII.
func encodeHeader(h http.Header) (plain, b64 http.Header) {
	if headerUTF8(h) {
		return h, nil
	}
	plain, b64 = http.Header{}, http.Header{}
	for k, vs := range h {
		if !valuesUTF8(vs) {
			enc := make([]string, len(vs))
			for i, v := range vs {
				enc[i] = base64.StdEncoding.EncodeToString([]byte(v))
			}
			b64[k] = enc
		} else {
			plain[k] = vs
		}
	}
	return plain, b64
}

func valuesUTF8(vs []string) bool {
	for _, v := range vs {
		if !utf8.ValidString(v) {
			return false
		}
	}
	return true
}

// decodeHeader joins what encodeHeader split.
func decodeHeader(plain, b64 http.Header, what string) (http.Header, error) {
	if len(b64) == 0 {
		return plain, nil
	}
	h := plain.Clone()
	if h == nil {
		h = http.Header{}
	}
	for k, vs := range b64 {
		if _, ok := plain[k]; ok {
			return nil, fmt.Errorf("%s: %q is in both the header and its base64 form", what, k)
		}
		dec := make([]string, len(vs))
		for i, v := range vs {
			b, err := base64.StdEncoding.DecodeString(v)
			if err != nil {
				return nil, fmt.Errorf("%s %q: bad base64: %w", what, k, err)
			}
			dec[i] = string(b)
		}
		h[k] = dec
	}
	return h, nil
}
