package store

import (
	"fmt"
	"net/http"
	"time"

	"github.com/hooktap/hooktap/inspector/signing"
)

// legacyRecord is a delivery as hooktap exported it before the record had
// one shape (Record): `events import` still reads it. JSON lines, one
// delivery per line with every attempt, oldest first. Bodies are UTF-8
// strings, or base64 with "body_encoding": "base64" when they are not
// UTF-8; an absent body is NULL in the store, "" is an empty one. A header
// whose values are not all UTF-8 (HTTP allows other bytes) is written under
// header_base64 instead of header, every value of it in base64, so that
// its bytes survive JSON. The latest-attempt summary (status, error, ...)
// is not written: import rebuilds it from the attempts.
type legacyRecord struct {
	ID              string          `json:"id"`
	Channel         string          `json:"channel,omitempty"`
	RelaySeq        int64           `json:"relay_seq,omitempty"`
	ReceivedAt      time.Time       `json:"received_at"`
	Method          string          `json:"method"`
	Path            string          `json:"path"`
	Query           string          `json:"query,omitempty"`
	Header          http.Header     `json:"header"`
	HeaderBase64    http.Header     `json:"header_base64,omitempty"`
	Body            *string         `json:"body,omitempty"`
	BodyEncoding    string          `json:"body_encoding,omitempty"`
	RemoteAddr      string          `json:"remote_addr,omitempty"`
	Host            string          `json:"host,omitempty"`
	Proto           string          `json:"proto,omitempty"`
	ObjectType      string          `json:"object_type"`
	Action          string          `json:"action"`
	EntityID        string          `json:"entity_id"`
	ObjectID        string          `json:"object_id"`
	EventID         string          `json:"event_id,omitempty"`
	Scheme          string          `json:"scheme,omitempty"`
	Signature       signing.State   `json:"signature"`
	SignatureReason string          `json:"signature_reason,omitempty"`
	Attempts        []legacyAttempt `json:"attempts"`
}

// legacyAttempt is one attempt in a legacyRecord. RequestHeader and RequestBody
// are absent when the attempt sent the delivery as stored.
type legacyAttempt struct {
	Kind                Kind         `json:"kind"`
	Target              string       `json:"target"`
	StartedAt           time.Time    `json:"started_at"`
	DurationUS          int64        `json:"duration_us"`
	RequestHeader       *http.Header `json:"request_header,omitempty"`
	RequestHeaderBase64 http.Header  `json:"request_header_base64,omitempty"`
	RequestBody         *string      `json:"request_body,omitempty"`
	RequestBodyEncoding string       `json:"request_body_encoding,omitempty"`
	Status              int          `json:"status"`
	Header              http.Header  `json:"header"`
	HeaderBase64        http.Header  `json:"header_base64,omitempty"`
	Body                *string      `json:"body,omitempty"`
	BodyEncoding        string       `json:"body_encoding,omitempty"`
	Error               string       `json:"error,omitempty"`
}

// delivery turns a legacy record into a delivery with its history,
// checking what import needs.
func (r *legacyRecord) delivery() (*Delivery, error) {
	if err := checkDelivery(r.ID, r.Method, r.ReceivedAt); err != nil {
		return nil, err
	}
	body, err := decodeBody(r.Body, r.BodyEncoding, "delivery "+r.ID+" body")
	if err != nil {
		return nil, err
	}
	header, err := decodeHeader(r.Header, r.HeaderBase64, "delivery "+r.ID+" header")
	if err != nil {
		return nil, err
	}
	d := &Delivery{
		ID: r.ID, Channel: r.Channel, RelaySeq: r.RelaySeq, ReceivedAt: r.ReceivedAt.UTC(), Method: r.Method,
		Path: r.Path, Query: r.Query, Header: header, Body: body, RemoteAddr: r.RemoteAddr, Host: r.Host,
		Proto: r.Proto, ObjectType: r.ObjectType, Action: r.Action, EntityID: r.EntityID, ObjectID: r.ObjectID,
		EventID: r.EventID, Scheme: r.Scheme, Signature: r.Signature, SignatureReason: r.SignatureReason,
	}
	for i, ra := range r.Attempts {
		if err := checkAttempt(r.ID, i, ra.Kind, ra.StartedAt); err != nil {
			return nil, err
		}
		a := &Attempt{
			DeliveryID: r.ID, Kind: ra.Kind, Target: ra.Target, StartedAt: ra.StartedAt.UTC(),
			Duration: time.Duration(ra.DurationUS) * time.Microsecond, Status: ra.Status, Error: ra.Error,
		}
		what := fmt.Sprintf("delivery %s attempt %d", r.ID, i+1)
		if a.Header, err = decodeHeader(ra.Header, ra.HeaderBase64, what+" header"); err != nil {
			return nil, err
		}
		if ra.RequestHeader != nil || ra.RequestHeaderBase64 != nil {
			var plain http.Header
			if ra.RequestHeader != nil {
				plain = *ra.RequestHeader
			}
			if a.RequestHeader, err = decodeHeader(plain, ra.RequestHeaderBase64, what+" request header"); err != nil {
				return nil, err
			}
			if a.RequestHeader == nil {
				a.RequestHeader = http.Header{}
			}
		}
		if a.RequestBody, err = decodeBody(ra.RequestBody, ra.RequestBodyEncoding, what+" request body"); err != nil {
			return nil, err
		}
		if a.Body, err = decodeBody(ra.Body, ra.BodyEncoding, what+" body"); err != nil {
			return nil, err
		}
		d.History = append(d.History, a)
	}
	return d, nil
}
