// Package signing signs and verifies webhook deliveries with the signature
// schemes hooktap knows: Monite's (the default), Standard Webhooks 1.0,
// Stripe's and Monk's.
//
// Verification never stops at "invalid": a Result carries a human Reason that
// says what is wrong (a malformed header, an expired timestamp, a body that
// was re-serialized after signing) without ever quoting the secret.
package signing

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// Tolerance is how far a signed timestamp may be from now before a matching
// signature is reported as Expired.
const Tolerance = 300 * time.Second

// DefaultScheme is the scheme hooktap signs with unless told otherwise.
const DefaultScheme = "monite"

// ErrUnknownScheme is returned by Lookup for a name it does not know.
var ErrUnknownScheme = errors.New("unknown signing scheme")

// Message is what gets signed.
type Message struct {
	ID        string // delivery / message id (standard: webhook-id, monk: X-Monk-Delivery-Id)
	Event     string // e.g. "payable.created" (monk: X-Monk-Event)
	Timestamp time.Time
	Body      []byte // raw bytes, signed exactly as they are
}

// Scheme is one way of signing a webhook delivery.
type Scheme interface {
	// Name is the scheme's short name: "monite", "standard", "stripe", "monk".
	Name() string
	// Detect reports whether h carries this scheme's signature header.
	Detect(h http.Header) bool
	// Sign sets the scheme's headers on h, overwriting an older signature of
	// the same scheme.
	Sign(h http.Header, m Message, secret string) error
	// Verify checks the signature in h against body and secret at time now.
	Verify(h http.Header, body []byte, secret string, now time.Time) Result
}

// State is the outcome of a verification.
type State string

// The verification outcomes.
const (
	Valid    State = "valid"     // the signature matches and is fresh
	Invalid  State = "invalid"   // malformed header or no signature matches
	Expired  State = "expired"   // the signature matches but the timestamp is outside Tolerance
	Unsigned State = "unsigned"  // no signature header at all
	NoSecret State = "no-secret" // signed, but there is no secret to check it with
)

// Result describes a verification. Reason is meant for people and never
// contains the secret.
type Result struct {
	State     State
	Scheme    string
	Reason    string
	Timestamp time.Time // the signed timestamp, when the header carried one
}

// schemes lists the known schemes; the default comes first, which is also
// the order Detect tries them in.
var schemes = []Scheme{monite, standard, stripe, monk}

// Names returns the names of the known schemes, the default first.
func Names() []string {
	names := make([]string, len(schemes))
	for i, s := range schemes {
		names[i] = s.Name()
	}
	return names
}

// Lookup returns the scheme called name (case-insensitive).
func Lookup(name string) (Scheme, error) {
	for _, s := range schemes {
		if strings.EqualFold(s.Name(), strings.TrimSpace(name)) {
			return s, nil
		}
	}
	return nil, fmt.Errorf("%w %q (known: %s)", ErrUnknownScheme, name, strings.Join(Names(), ", "))
}

// Detect returns the scheme whose signature header h carries, or nil when
// none is present.
func Detect(h http.Header) Scheme {
	for _, s := range schemes {
		if s.Detect(h) {
			return s
		}
	}
	return nil
}

// Verify detects the scheme in h and verifies with it. Without a signature
// header the result is Unsigned; with one but an empty secret it is NoSecret.
func Verify(h http.Header, body []byte, secret string, now time.Time) Result {
	s := Detect(h)
	if s == nil {
		return Result{State: Unsigned, Reason: "no signature header"}
	}
	if secret == "" {
		return Result{State: NoSecret, Scheme: s.Name(), Reason: "signed with " + s.Name() + ", but no secret is configured"}
	}
	return s.Verify(h, body, secret, now)
}

// Strip removes every known scheme's signature headers from h, so it can be
// re-signed with another scheme. Standard Webhooks' webhook-id and
// webhook-timestamp go too, since they are part of what that scheme signs;
// descriptive headers such as X-Monk-Event stay.
func Strip(h http.Header) {
	for _, s := range schemes {
		if sh, ok := s.(interface{ headers() []string }); ok {
			for _, name := range sh.headers() {
				del(h, name)
			}
		}
	}
}
