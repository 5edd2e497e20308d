package main

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hooktap/hooktap/inspector/agent"
	"github.com/hooktap/hooktap/inspector/forward"
	"github.com/hooktap/hooktap/inspector/live"
	"github.com/hooktap/hooktap/inspector/signing"
	"github.com/hooktap/hooktap/inspector/store"
	"github.com/hooktap/hooktap/relay"
)

// TestSigningEndToEnd is the proof: a real relay, a real agent and
// an app that checks signatures with a 300 s tolerance. A delivery signed an
// hour ago arrives and is stored as expired; replay reproduces it exactly
// (the app still refuses it); resend re-signs it so that the app accepts it,
// also after --set changed a field.
func TestSigningEndToEnd(t *testing.T) {
	const stdSecret = "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD"
	schemes := []struct {
		name   string
		secret string
		check  func(string) func(http.Header, []byte) error
		sign   func(h http.Header, secret, id string, at time.Time, body []byte)
		idOf   func(h http.Header) string // the message id the app deduplicates on
	}{
		{
			name: "monite", secret: testSecret, check: moniteCheck,
			sign: func(h http.Header, secret, _ string, at time.Time, body []byte) {
				h.Set("Monite-Signature", moniteHeader(secret, at, body))
			},
			idOf: func(http.Header) string { return "" },
		},
		{
			name: "standard", secret: stdSecret, check: standardCheck,
			sign: func(h http.Header, secret, id string, at time.Time, body []byte) {
				key, _ := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
				mac := hmac.New(sha256.New, key)
				fmt.Fprintf(mac, "%s.%d.", id, at.Unix())
				mac.Write(body)
				h.Set("webhook-id", id)
				h.Set("webhook-timestamp", strconv.FormatInt(at.Unix(), 10))
				h.Set("webhook-signature", "v1,"+base64.StdEncoding.EncodeToString(mac.Sum(nil)))
			},
			idOf: func(h http.Header) string { return h.Get("webhook-id") },
		},
	}
	for _, sc := range schemes {
		t.Run(sc.name, func(t *testing.T) {
			cleanEnv(t)
			app := newRecordingApp(t, sc.check(sc.secret))
			db := filepath.Join(t.TempDir(), "hooktap.db")
			ingress := startTunnel(t, db, sc.secret, app.URL+"/webhooks")

			// A delivery the provider signed an hour ago (a retry, say).
			body := []byte(`{"id":"5b1f3c8e-2d4a-4e6f-8a9b-0c1d2e3f4a5b","created_at":"2024-06-01T10:00:00.000000Z","action":"payable.created","api_version":"2024-05-25","entity_id":"ent-7","object":{"id":"pay-7","status":"draft","amount":  1500},"object_type":"payable"}`)
			req, _ := http.NewRequestWithContext(t.Context(), "POST", ingress+"/billing?src=monite", bytes.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			sc.sign(req.Header, sc.secret, "msg_2LYqpmfWDx5xTr0v8xNfVCbQbMp", time.Now().Add(-time.Hour), body)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			id := resp.Header.Get(relay.HeaderDelivery)
			if resp.StatusCode != http.StatusBadRequest || id == "" {
				t.Fatalf("provider got %d (delivery %q), want the app's 400 for an old signature", resp.StatusCode, id)
			}
			d := loadDelivery(t, db, id)
			if d.Signature != signing.Expired || d.Scheme != sc.name || !strings.Contains(d.SignatureReason, "3600s old") {
				t.Fatalf("stored signature %s (%s) %q, want expired", d.Signature, d.Scheme, d.SignatureReason)
			}
			first := app.requests()[0]
			if !bytes.Equal(first.Body, body) {
				t.Fatalf("the tunnel changed the body:\n got %s\nwant %s", first.Body, body)
			}

			// replay: the same bytes and headers reach the app.
			r := execCLI(t, "replay", id, "--db", db)
			if r.err != nil {
				t.Fatalf("replay: %v", r.err)
			}
			replayed := app.requests()[1]
			if !bytes.Equal(replayed.Body, first.Body) || replayed.Path != first.Path || replayed.Path != "/webhooks/billing?src=monite" {
				t.Errorf("replay differs: %s %s", replayed.Path, replayed.Body)
			}
			assertSameHeader(t, first.Header, replayed.Header)
			if !strings.Contains(r.stdout, "400 Bad Request") || !strings.Contains(r.stdout, "timestamp too old") {
				t.Errorf("replay output:\n%s", r.stdout)
			}

			// resend: re-signed now, the app accepts it; the id is kept.
			r = execCLI(t, "resend", id, "--db", db, "--secret", sc.secret)
			if r.err != nil || !strings.Contains(r.stdout, "200 OK") {
				t.Fatalf("resend: %v\n%s", r.err, r.stdout)
			}
			resent := app.requests()[2]
			if !bytes.Equal(resent.Body, body) {
				t.Errorf("resend changed the body: %s", resent.Body)
			}
			if sc.idOf(resent.Header) != sc.idOf(first.Header) {
				t.Errorf("message id %q, want the original %q", sc.idOf(resent.Header), sc.idOf(first.Header))
			}
			assertNoSecret(t, r)

			// resend --set: the field changes, the signature still passes.
			r = execCLI(t, "resend", id, "--db", db, "--secret", sc.secret, "--set", "object.status=paid")
			if r.err != nil || !strings.Contains(r.stdout, "200 OK") {
				t.Fatalf("resend --set: %v\n%s", r.err, r.stdout)
			}
			var got struct {
				Object struct {
					Status string
					Amount json.Number
				}
			}
			edited := app.requests()[3]
			if err := json.Unmarshal(edited.Body, &got); err != nil || got.Object.Status != "paid" || got.Object.Amount != "1500" {
				t.Errorf("edited body %s", edited.Body)
			}
			if err := sc.check(sc.secret)(edited.Header, edited.Body); err != nil {
				t.Errorf("the edited resend does not verify: %v", err)
			}

			// verify: it was already too old when it arrived.
			r = execCLI(t, "verify", id, "--db", db, "--secret", sc.secret)
			if r.exitCode() != 1 || !strings.Contains(r.stdout, "as received  expired") {
				t.Errorf("verify: exit %d\n%s", r.exitCode(), r.stdout)
			}

			d = loadDelivery(t, db, id)
			var kinds, statuses []string
			for _, a := range d.History {
				kinds = append(kinds, string(a.Kind))
				statuses = append(statuses, strconv.Itoa(a.Status))
			}
			if strings.Join(kinds, ",") != "forward,replay,resend,resend" || strings.Join(statuses, ",") != "400,400,200,200" {
				t.Errorf("history: %v %v", kinds, statuses)
			}
		})
	}
}

// startTunnel runs a relay on an httptest server and an agent that records
// into db, verifies with secret and forwards to target. It returns the
// channel's ingress URL once the agent is connected.
func startTunnel(t *testing.T, db, secret, target string) string {
	t.Helper()
	ctx := t.Context()
	srv, err := relay.New(ctx, relay.Config{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv.Handler())
	st, err := store.Open(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	fwd, err := forward.New(target, 0)
	if err != nil {
		t.Fatal(err)
	}
	bus := live.NewBus()
	events, unsubscribe := bus.Subscribe(16)
	defer unsubscribe()
	ag, err := agent.New(agent.Config{
		Relay: ts.URL, Channel: "e2e", Store: st, Forwarder: fwd,
		Secret: secret, Bus: bus,
	})
	if err != nil {
		t.Fatal(err)
	}
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- ag.Run(runCtx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("agent: %v", err)
		}
		st.Close()
		ts.Close()
		srv.Close()
	})
	timeout := time.After(10 * time.Second)
	for {
		select {
		case ev := <-events:
			if ev.Kind == live.EventRelay && ev.Relay.State == live.StateConnected {
				return ts.URL + "/h/e2e"
			}
		case err := <-done:
			done <- err // for the cleanup
			t.Fatalf("agent stopped: %v", err)
		case <-timeout:
			t.Fatal(errors.New("agent did not connect within 10s"))
		}
	}
}

// TestTriggerThroughTunnel sends catalog events through a real relay and
// agent: the app's check passes and the agent stores them as valid.
func TestTriggerThroughTunnel(t *testing.T) {
	cleanEnv(t)
	app := newRecordingApp(t, moniteCheck(testSecret))
	db := filepath.Join(t.TempDir(), "hooktap.db")
	ingress := startTunnel(t, db, testSecret, app.URL+"/webhooks")
	t.Setenv("HOOKTAP_SECRET", testSecret)
	r := execCLI(t, "trigger", "counterpart.delete", "--to", ingress+"/crm", "--count", "2", "--json")
	if r.err != nil {
		t.Fatalf("trigger: %v\n%s%s", r.err, r.stdout, r.stderr)
	}
	dec := json.NewDecoder(strings.NewReader(r.stdout))
	for range 2 {
		var l triggerLine
		if err := dec.Decode(&l); err != nil {
			t.Fatal(err)
		}
		if l.Status != 200 || l.Delivery == "" {
			t.Fatalf("line %+v", l)
		}
		d := loadDelivery(t, db, l.Delivery)
		if d.Signature != signing.Valid || d.Action != "counterpart.delete" || d.EventID != l.EventID || d.Path != "/crm" {
			t.Errorf("stored %s %s %s %s, want a valid counterpart.delete %s at /crm", d.Signature, d.Action, d.EventID, d.Path, l.EventID)
		}
	}
	if n := len(app.requests()); n != 2 {
		t.Errorf("app got %d requests", n)
	}
	assertNoSecret(t, r)
}
