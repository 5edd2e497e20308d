package replay

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hooktap/hooktap/inspector/forward"
	"github.com/hooktap/hooktap/inspector/live"
	"github.com/hooktap/hooktap/inspector/signing"
	"github.com/hooktap/hooktap/inspector/store"
)

// senderApp records the requests it gets and answers 200.
type senderApp struct {
	*httptest.Server
	mu   sync.Mutex
	reqs []*http.Request
	body [][]byte
}

func newSenderApp(t *testing.T) *senderApp {
	a := &senderApp{}
	a.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		a.mu.Lock()
		a.reqs, a.body = append(a.reqs, r), append(a.body, b)
		a.mu.Unlock()
		w.Write([]byte("ok"))
	}))
	t.Cleanup(a.Close)
	return a
}

func (a *senderApp) last(t *testing.T) (*http.Request, []byte) {
	t.Helper()
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(a.reqs) == 0 {
		t.Fatal("the app got no request")
	}
	return a.reqs[len(a.reqs)-1], a.body[len(a.body)-1]
}

const senderSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

// senderFixture stores a delivery signed with scheme an hour before now and
// forwarded to app.
func senderFixture(t *testing.T, scheme string, app string) (*store.Store, *store.Delivery) {
	t.Helper()
	ctx := t.Context()
	s, err := store.Open(ctx, filepath.Join(t.TempDir(), "hooktap.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	body := []byte(`{"id":"evt-1","action":"payable.paid","object":{"id":"p1","status":"new"}}`)
	h := http.Header{"Content-Type": {"application/json"}}
	sc, err := signing.Lookup(scheme)
	if err != nil {
		t.Fatal(err)
	}
	signed := time.Now().Add(-time.Hour)
	if err := sc.Sign(h, signing.Message{ID: "msg_orig", Event: "payable.paid", Timestamp: signed, Body: body}, senderSecret); err != nil {
		t.Fatal(err)
	}
	d := &store.Delivery{ID: "dlv_" + scheme, ReceivedAt: signed, Method: "POST", Path: "/x", Query: "a=1", Header: h, Body: body,
		Action: "payable.paid", ObjectType: "payable", EventID: "evt-1"}
	d.Verify(senderSecret)
	if err := store.Wait(ctx, s.Insert(d)); err != nil {
		t.Fatal(err)
	}
	if app != "" {
		f, err := forward.New(app, 0)
		if err != nil {
			t.Fatal(err)
		}
		a := f.Forward(ctx, forward.RequestOf(d))
		a.DeliveryID, a.Kind = d.ID, store.KindForward
		if err := store.Wait(ctx, s.AddAttempt(a)); err != nil {
			t.Fatal(err)
		}
	}
	return s, d
}

func TestSenderReplay(t *testing.T) {
	app, other := newSenderApp(t), newSenderApp(t)
	st, d := senderFixture(t, "monite", app.URL+"/hooks")
	bus := live.NewBus()
	events, stop := bus.Subscribe(8)
	defer stop()
	s := &Sender{Store: st, Bus: bus}

	got, a, err := s.Replay(t.Context(), d.ID, "")
	if err != nil {
		t.Fatal(err)
	}
	r, body := app.last(t)
	if string(body) != string(d.Body) || r.URL.RequestURI() != "/hooks/x?a=1" || r.Header.Get("Monite-Signature") != d.Header.Get("Monite-Signature") {
		t.Errorf("replay sent %s %s with %q", r.URL.RequestURI(), body, r.Header.Get("Monite-Signature"))
	}
	if a.Kind != store.KindReplay || a.Status != 200 || got.Attempts != 2 || a.RequestHeader != nil {
		t.Errorf("attempt %+v, delivery attempts %d", a, got.Attempts)
	}
	timeout := time.After(5 * time.Second)
wait:
	for {
		select {
		case ev := <-events:
			if ev.Kind == live.EventAttempt {
				if ev.Attempt.Kind != store.KindReplay || ev.Delivery.ID != d.ID || ev.Delivery.Body != nil {
					t.Errorf("bus event %+v", ev)
				}
				break wait
			}
		case <-timeout:
			t.Fatal("no attempt event on the bus")
		}
	}

	if _, _, err := s.Replay(t.Context(), d.ID, other.URL+"/base"); err != nil {
		t.Fatal(err)
	}
	if r, _ := other.last(t); r.URL.RequestURI() != "/base/x?a=1" {
		t.Errorf("replay --to went to %s, want the path suffix and query appended", r.URL.RequestURI())
	}
	stored, err := st.Get(t.Context(), d.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(stored.History) != 3 || stored.History[2].Target != other.URL+"/base/x?a=1" {
		t.Errorf("stored history %d, last target %s", len(stored.History), stored.History[len(stored.History)-1].Target)
	}
}

func TestSenderResend(t *testing.T) {
	now := time.Now().Truncate(time.Second)
	tests := []struct {
		scheme   string // the delivery's
		o        ResendOptions
		check    func(t *testing.T, h http.Header, body []byte)
		verifyAs string // the scheme the app verifies
	}{
		{scheme: "monite", verifyAs: "monite", check: func(t *testing.T, h http.Header, body []byte) {
			if string(body) != `{"id":"evt-1","action":"payable.paid","object":{"id":"p1","status":"new"}}` {
				t.Errorf("body changed: %s", body)
			}
		}},
		{scheme: "standard", verifyAs: "standard", check: func(t *testing.T, h http.Header, body []byte) {
			if h.Get("Webhook-Id") != "msg_orig" {
				t.Errorf("webhook-id %q, want the original kept", h.Get("Webhook-Id"))
			}
		}},
		{scheme: "standard", verifyAs: "standard", o: ResendOptions{NewID: true}, check: func(t *testing.T, h http.Header, body []byte) {
			var p struct{ ID string }
			json.Unmarshal(body, &p)
			if id := h.Get("Webhook-Id"); id == "msg_orig" || !strings.HasPrefix(id, "msg_") || p.ID == "evt-1" || p.ID == "" {
				t.Errorf("--new-id: webhook-id %q, body id %q", id, p.ID)
			}
		}},
		{scheme: "monk", verifyAs: "monk", o: ResendOptions{Set: []string{"object.status=paid", `object.tags=["a"]`}}, check: func(t *testing.T, h http.Header, body []byte) {
			if h.Get("X-Monk-Event") != "payable.paid" || h.Get("X-Monk-Delivery-Id") != "msg_orig" || h.Get("User-Agent") != "Monk-Webhook/1.0" {
				t.Errorf("monk headers: %v", h)
			}
			if string(body) != `{"id":"evt-1","action":"payable.paid","object":{"id":"p1","status":"paid","tags":["a"]}}` {
				t.Errorf("--set: %s", body)
			}
		}},
		{scheme: "monite", verifyAs: "stripe", o: ResendOptions{Scheme: "stripe", Body: []byte(`{"edited":true}`)}, check: func(t *testing.T, h http.Header, body []byte) {
			if h.Get("Monite-Signature") != "" {
				t.Error("the old scheme's signature was not stripped")
			}
			if string(body) != `{"edited":true}` {
				t.Errorf("body %s, want the replacement", body)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.scheme+"->"+tt.verifyAs, func(t *testing.T) {
			app := newSenderApp(t)
			st, d := senderFixture(t, tt.scheme, app.URL)
			if d.Signature != signing.Valid {
				t.Fatalf("fixture signature %s", d.Signature)
			}
			s := &Sender{Store: st, Secret: senderSecret, Now: func() time.Time { return now }}
			_, _, err := s.Resend(t.Context(), d.ID, tt.o)
			if err != nil {
				t.Fatal(err)
			}
			r, body := app.last(t)
			sc, _ := signing.Lookup(tt.verifyAs)
			if res := sc.Verify(r.Header, body, senderSecret, now.Add(time.Second)); res.State != signing.Valid || !res.Timestamp.Equal(now) {
				t.Errorf("the app's check: %s (%s), signed at %s", res.State, res.Reason, res.Timestamp)
			}
			tt.check(t, r.Header, body)
			stored, err := st.Get(t.Context(), d.ID)
			if err != nil {
				t.Fatal(err)
			}
			last := stored.History[len(stored.History)-1]
			if last.Kind != store.KindResend || string(last.RequestBody) != string(body) {
				t.Errorf("stored attempt: kind %s, body %s", last.Kind, last.RequestBody)
			}
			if sc.Verify(last.RequestHeader, last.RequestBody, senderSecret, now).State != signing.Valid {
				t.Error("the stored request of the resend does not verify")
			}
		})
	}
}

func TestSenderErrors(t *testing.T) {
	st, d := senderFixture(t, "monite", "")
	s := &Sender{Store: st}
	ctx := t.Context()
	if _, _, err := s.Replay(ctx, d.ID, ""); err == nil || !strings.Contains(err.Error(), "--to") {
		t.Errorf("replay of a never-forwarded delivery: %v", err)
	}
	if _, _, err := s.Replay(ctx, "dlv_nope", "http://127.0.0.1:1"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("unknown id: %v", err)
	}
	if _, _, err := s.Resend(ctx, d.ID, ResendOptions{To: "http://127.0.0.1:1"}); !errors.Is(err, ErrNoSecret) {
		t.Errorf("no secret: %v", err)
	}
	s.Secret = "not base64 !"
	if _, _, err := s.Resend(ctx, d.ID, ResendOptions{To: "http://127.0.0.1:1", Scheme: "nope"}); !errors.Is(err, signing.ErrUnknownScheme) {
		t.Errorf("unknown scheme: %v", err)
	}
	_, _, err := s.Resend(ctx, d.ID, ResendOptions{To: "http://127.0.0.1:1", Scheme: "standard"})
	if err == nil || strings.Contains(err.Error(), s.Secret) || strings.Contains(err.Error(), "sign: sign") {
		t.Errorf("bad standard secret: %v", err)
	}
	if _, _, err := s.Resend(ctx, d.ID, ResendOptions{To: "http://127.0.0.1:1", Set: []string{"a..b=1"}}); err == nil {
		t.Error("a bad --set path was accepted")
	}
	stored, _ := st.Get(ctx, d.ID)
	if stored.Attempts != 0 {
		t.Errorf("failed sends recorded %d attempts", stored.Attempts)
	}
}

// Replay and resend send the stored header bytes, and a resend's recorded
// request keeps them.
func TestSenderKeepsHeaderBytes(t *testing.T) {
	ctx := t.Context()
	app := newSenderApp(t)
	const rawValue = "caf\xe9 \xff" // not UTF-8: HTTP allows it, JSON cannot hold it
	s, err := store.Open(ctx, filepath.Join(t.TempDir(), "raw.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	now := time.Now().UTC()
	d := &store.Delivery{ID: "dlv_raw", ReceivedAt: now, Method: "POST",
		Header: http.Header{"Content-Type": {"application/json"}, "X-Name": {rawValue, "plain"}}, Body: []byte(`{"id":"e1"}`)}
	if err := store.Wait(ctx, s.Record(d, &store.Attempt{DeliveryID: d.ID, Kind: store.KindForward, Target: app.URL, StartedAt: now})); err != nil {
		t.Fatal(err)
	}
	sender := &Sender{Store: s, Secret: senderSecret, Scheme: "monite"}
	if _, _, err := sender.Replay(ctx, d.ID, ""); err != nil {
		t.Fatal(err)
	}
	if r, _ := app.last(t); !reflect.DeepEqual(r.Header["X-Name"], []string{rawValue, "plain"}) {
		t.Errorf("replay sent X-Name %q", r.Header["X-Name"])
	}
	if _, _, err := sender.Resend(ctx, d.ID, ResendOptions{}); err != nil {
		t.Fatal(err)
	}
	if r, _ := app.last(t); !reflect.DeepEqual(r.Header["X-Name"], []string{rawValue, "plain"}) {
		t.Errorf("resend sent X-Name %q", r.Header["X-Name"])
	}
	stored, err := s.Get(ctx, d.ID)
	if err != nil {
		t.Fatal(err)
	}
	if a := stored.History[len(stored.History)-1]; a.Kind != store.KindResend || a.RequestHeader.Get("X-Name") != rawValue {
		t.Errorf("stored resend: %s with X-Name %q", a.Kind, a.RequestHeader.Get("X-Name"))
	}
}

// unsignedDelivery stores a delivery that arrived unsigned, through a
// proxy and one hooktap agent (its Via), forwarded to app.
func unsignedDelivery(t *testing.T, app string) (*store.Store, *store.Delivery) {
	t.Helper()
	st, err := store.Open(t.Context(), filepath.Join(t.TempDir(), "hooktap.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	h := http.Header{"Content-Type": {"application/json"}, "Via": {"1.0 corp-proxy, 1.1 hooktap"}}
	d := &store.Delivery{ID: "dlv_unsigned", ReceivedAt: time.Now(), Method: "POST", Path: "/x", Header: h,
		Body: []byte(`{"id":"evt-1","action":"payable.paid","object":{"id":"p1"}}`), Action: "payable.paid"}
	d.Verify("")
	if err := store.Wait(t.Context(), st.Insert(d)); err != nil {
		t.Fatal(err)
	}
	f, _ := forward.New(app, 0)
	a := f.Forward(t.Context(), forward.RequestOf(d))
	a.DeliveryID, a.Kind = d.ID, store.KindForward
	if err := store.Wait(t.Context(), st.AddAttempt(a)); err != nil {
		t.Fatal(err)
	}
	return st, d
}

// TestSenderUnsignedAndOwnVia: an unsigned delivery is resent unsigned
// with no secret (edited or not), and neither a resend nor a replay carries
// the Via entries of the delivery's first trip through hooktap: only the
// other proxies' and the one of this sending.
func TestSenderUnsignedAndOwnVia(t *testing.T) {
	app := newSenderApp(t)
	st, d := unsignedDelivery(t, app.URL+"/hooks")
	s := &Sender{Store: st}
	if _, a, err := s.Resend(t.Context(), d.ID, ResendOptions{Set: []string{"object.id=x"}}); err != nil || a.Status != 200 {
		t.Fatalf("resend of an unsigned delivery with no secret: %v", err)
	}
	r, body := app.last(t)
	if sc := signing.Detect(r.Header); sc != nil || string(body) != `{"id":"evt-1","action":"payable.paid","object":{"id":"x"}}` {
		t.Errorf("sent %s signed with %v; want the edit, unsigned", body, sc)
	}
	if got := r.Header.Get("Via"); got != "1.0 corp-proxy, 1.1 hooktap" {
		t.Errorf("resend's Via %q, want the proxy's and one of hooktap", got)
	}
	if _, _, err := s.Replay(t.Context(), d.ID, ""); err != nil {
		t.Fatal(err)
	}
	if r, _ := app.last(t); r.Header.Get("Via") != "1.0 corp-proxy, 1.1 hooktap" {
		t.Errorf("replay's Via %q, want the proxy's and one of hooktap", r.Header.Get("Via"))
	}
	if _, _, err := s.Resend(t.Context(), d.ID, ResendOptions{Scheme: "monite"}); !errors.Is(err, ErrNoSecret) {
		t.Errorf("asked to sign with no secret: %v", err)
	}
}

// TestSenderSecretFor: with no secret given, a signed delivery is re-signed
// with the one SecretFor names (the provider emulator's); a given secret
// wins.
func TestSenderSecretFor(t *testing.T) {
	app := newSenderApp(t)
	st, d := senderFixture(t, "monite", app.URL)
	asked := 0
	s := &Sender{Store: st, SecretFor: func(*store.Delivery) string { asked++; return senderSecret }}
	if _, _, err := s.Resend(t.Context(), d.ID, ResendOptions{}); err != nil {
		t.Fatal(err)
	}
	r, body := app.last(t)
	if res := signing.Verify(r.Header, body, senderSecret, time.Now()); res.State != signing.Valid || asked != 1 {
		t.Errorf("re-signed with the emulator's secret: %s %s (asked %d)", res.State, res.Reason, asked)
	}
	if _, _, err := s.Resend(t.Context(), d.ID, ResendOptions{Secret: "whsec_other"}); err != nil {
		t.Fatal(err)
	}
	r, body = app.last(t)
	if res := signing.Verify(r.Header, body, "whsec_other", time.Now()); res.State != signing.Valid || asked != 1 {
		t.Errorf("a given secret should win: %s (asked %d)", res.State, asked)
	}
}
