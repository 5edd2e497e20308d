package replay

import (
	"cmp"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/google/uuid"
	"github.com/hooktap/hooktap/inspector/forward"
	"github.com/hooktap/hooktap/inspector/jsonedit"
	"github.com/hooktap/hooktap/inspector/live"
	"github.com/hooktap/hooktap/inspector/signing"
	"github.com/hooktap/hooktap/inspector/store"
	"github.com/hooktap/hooktap/relay/wire"
)

// ErrNoSecret is returned by Resend when a signed delivery is to be
// re-signed and no signing secret is known.
var ErrNoSecret = errors.New("resend needs the signing secret to re-sign this signed delivery: pass --secret or set HOOKTAP_SECRET")

// Sender sends stored deliveries again: Replay as they came, Resend
// re-signed with a fresh timestamp. Every sending is recorded as an attempt
// of the delivery.
type Sender struct {
	Store  *store.Store
	Bus    *live.Bus // optional: told about each attempt
	Secret string    // default secret for Resend
	Scheme string    // default scheme for Resend when a delivery has none
	// SecretFor, when set, names the secret of the provider emulator's
	// subscription a signed delivery came from ("" when it did not): used
	// when neither the resend nor Secret gives one.
	SecretFor func(*store.Delivery) string
	Timeout   time.Duration    // per request; DefaultForwardTimeout when 0
	Now       func() time.Time // clock for signatures; time.Now when nil
}

func (s *Sender) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

// target picks where a delivery goes again: to (a base URL, with the
// delivery's path suffix and query appended) or, when to is empty, the URL
// its first forward went to.
func (s *Sender) target(d *store.Delivery, to string, req forward.Request) (*forward.Forwarder, forward.Request, error) {
	if to == "" {
		for _, a := range d.History {
			if a.Kind == store.KindForward && a.Target != "" {
				to = a.Target
				break
			}
		}
		if to == "" && d.Target != "" {
			to = d.Target
		}
		if to == "" {
			return nil, req, fmt.Errorf("delivery %s was never forwarded; say where to send it with --to URL", d.ID)
		}
		req.Path, req.Query = "", "" // the stored target is the full URL
	}
	f, err := forward.New(to, s.Timeout)
	return f, req, err
}

// Replay sends the stored request of delivery id again, byte for byte,
// headers and old signature included.
func (s *Sender) Replay(ctx context.Context, id, to string) (*store.Delivery, *store.Attempt, error) {
	d, err := s.Store.Get(ctx, id)
	if err != nil {
		return nil, nil, err
	}
	req := forward.RequestOf(d)
	req.Header = d.Header.Clone()
	if req.Header != nil {
		wire.DropOwnVia(req.Header)
	}
	f, req, err := s.target(d, to, req)
	if err != nil {
		return d, nil, err
	}
	a := send(ctx, f, req)
	a.DeliveryID, a.Kind = d.ID, store.KindReplay
	return s.record(ctx, d, a)
}

// send sends one request and lets go of the connection: a Sender makes a
// Forwarder per sending, and idle connections would otherwise pile up in a
// long-running agent until their idle timeout.
func send(ctx context.Context, f *forward.Forwarder, r forward.Request) *store.Attempt {
	defer f.CloseIdle()
	return f.Forward(ctx, r)
}

// ResendOptions change a resend.
type ResendOptions struct {
	To     string   // base URL; "" for the original target
	Secret string   // overrides Sender.Secret
	Scheme string   // overrides the delivery's scheme
	Body   []byte   // replaces the stored body (an edit, compacted if the stored one is); nil keeps it
	Set    []string // "json.path=value" edits applied to the body
	NewID  bool     // a new event/message id instead of the stored one
}

// Resend sends delivery id again with a fresh signature in its scheme,
// after the edits in o.
func (s *Sender) Resend(ctx context.Context, id string, o ResendOptions) (*store.Delivery, *store.Attempt, error) {
	d, err := s.Store.Get(ctx, id)
	if err != nil {
		return nil, nil, err
	}
	sign, secret := s.signing(d, o)
	if sign && secret == "" {
		return d, nil, ErrNoSecret
	}
	body := d.Body
	if o.Body != nil {
		body = jsonedit.LikeStored(d.Body, o.Body)
	}
	msgID := messageID(d)
	if o.NewID {
		msgID = "msg_" + rand.Text()
		if d.EventID != "" {
			if b, err := jsonedit.Set(body, "id", `"`+uuid.NewString()+`"`); err == nil {
				body = b
			}
		}
	}
	for _, assignment := range o.Set {
		path, value, err := jsonedit.ParseAssignment(assignment)
		if err != nil {
			return d, nil, err
		}
		if body, err = jsonedit.Set(body, path, value); err != nil {
			return d, nil, fmt.Errorf("--set %s: %w", assignment, err)
		}
	}
	h := d.Header.Clone()
	if h == nil {
		h = http.Header{}
	}
	wire.DropOwnVia(h)
	if sign {
		scheme, err := s.scheme(d, o.Scheme)
		if err != nil {
			return d, nil, err
		}
		signing.Strip(h)
		err = scheme.Sign(h, signing.Message{ID: msgID, Event: d.Action, Timestamp: s.now(), Body: body}, secret)
		if err != nil {
			return d, nil, err // already says "sign <scheme>: ..."
		}
	}
	req := forward.RequestOf(d)
	req.Header, req.Body = h, body
	f, req, err := s.target(d, o.To, req)
	if err != nil {
		return d, nil, err
	}
	a := send(ctx, f, req)
	a.DeliveryID, a.Kind = d.ID, store.KindResend
	a.RequestHeader, a.RequestBody = forward.SentHeader(req), body
	return s.record(ctx, d, a)
}

// CanResend says, before an edit, whether d can be resent with o: a
// signed delivery needs a secret (ErrNoSecret).
func (s *Sender) CanResend(d *store.Delivery, o ResendOptions) error {
	if sign, secret := s.signing(d, o); sign && secret == "" {
		return ErrNoSecret
	}
	return nil
}

// signing says whether a resend of d is signed, and with which secret: a
// delivery that arrived signed is re-signed and needs one; an unsigned one
// goes out unsigned unless a scheme or secret is given (a made-up secret
// would add a signature the app never saw). The secret is o's, else the
// Sender's, else the emulator's for the subscription d came from.
func (s *Sender) signing(d *store.Delivery, o ResendOptions) (sign bool, secret string) {
	signed := signing.Detect(d.Header) != nil || (d.Signature != "" && d.Signature != signing.Unsigned)
	secret = cmp.Or(o.Secret, s.Secret)
	if secret == "" && signed && s.SecretFor != nil {
		secret = s.SecretFor(d)
	}
	return signed || o.Scheme != "" || secret != "", secret
}

// scheme is the one named, else the delivery's own, else the Sender's
// default, else monite.
func (s *Sender) scheme(d *store.Delivery, name string) (signing.Scheme, error) {
	if name == "" {
		name = d.Scheme
	}
	if name == "" {
		if sc := signing.Detect(d.Header); sc != nil {
			return sc, nil
		}
		name = s.Scheme
	}
	if name == "" {
		name = signing.DefaultScheme
	}
	return signing.Lookup(name)
}

// messageID is the id the provider gave the message, kept on resend so that
// the app's idempotency can be tested.
func messageID(d *store.Delivery) string {
	for _, name := range []string{"Webhook-Id", "X-Monk-Delivery-Id"} {
		if v := d.Header.Get(name); v != "" {
			return v
		}
	}
	if d.EventID != "" {
		return d.EventID
	}
	return d.ID
}

func (s *Sender) record(ctx context.Context, d *store.Delivery, a *store.Attempt) (*store.Delivery, *store.Attempt, error) {
	if err := store.Wait(ctx, s.Store.AddAttempt(a)); err != nil {
		return d, a, fmt.Errorf("record attempt: %w", err)
	}
	d.History = append(d.History, a)
	d.Apply(a)
	s.Bus.Publish(live.Event{Kind: live.EventAttempt, Delivery: d.Summary(), Attempt: a})
	return d, a, nil
}
