package main

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hooktap/hooktap/inspector/forward"
	"github.com/hooktap/hooktap/inspector/signing"
	"github.com/hooktap/hooktap/inspector/store"
)

// The tests in this file drive the replay and resend commands through run,
// against httptest apps and a real store file.

const testSecret = "whsec_hooktap-test-secret-do-not-print"

// appRequest is one request a recordingApp received.
type appRequest struct {
	Path   string // with the query
	Header http.Header
	Body   []byte
}

// recordingApp is a webhook endpoint that records what it receives and, when
// check is set, answers 400 with the reason when check fails.
type recordingApp struct {
	*httptest.Server
	mu    sync.Mutex
	reqs  []appRequest
	check func(h http.Header, body []byte) error
	got   chan appRequest
}

func newRecordingApp(t *testing.T, check func(h http.Header, body []byte) error) *recordingApp {
	t.Helper()
	app := &recordingApp{check: check, got: make(chan appRequest, 64)}
	app.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		req := appRequest{Path: r.URL.RequestURI(), Header: r.Header.Clone(), Body: body}
		app.mu.Lock()
		app.reqs = append(app.reqs, req)
		app.mu.Unlock()
		select {
		case app.got <- req:
		default:
		}
		w.Header().Set("X-App", "test")
		if app.check != nil {
			if err := app.check(r.Header, body); err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"ok":true}`)
	}))
	t.Cleanup(app.Close)
	return app
}

func (a *recordingApp) requests() []appRequest {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]appRequest(nil), a.reqs...)
}

// moniteCheck is an app's own Monite verification, written independently of
// package signing: HMAC-SHA256(secret, "{t}.{body}") in hex, 300 s tolerance.
func moniteCheck(secret string) func(http.Header, []byte) error {
	return func(h http.Header, body []byte) error {
		v := h.Get("Monite-Signature")
		if v == "" {
			return errors.New("no Monite-Signature")
		}
		var ts int64 = -1
		var sigs []string
		for _, part := range strings.Split(v, ",") {
			k, val, _ := strings.Cut(part, "=")
			switch k {
			case "t":
				ts, _ = strconv.ParseInt(val, 10, 64)
			case "v1":
				sigs = append(sigs, val)
			}
		}
		mac := hmac.New(sha256.New, []byte(secret))
		fmt.Fprintf(mac, "%d.", ts)
		mac.Write(body)
		want := hex.EncodeToString(mac.Sum(nil))
		ok := false
		for _, s := range sigs {
			ok = ok || hmac.Equal([]byte(s), []byte(want))
		}
		if !ok {
			return errors.New("bad signature")
		}
		if d := time.Since(time.Unix(ts, 0)); d > 300*time.Second || d < -300*time.Second {
			return fmt.Errorf("timestamp too old: %s", d.Round(time.Second))
		}
		return nil
	}
}

// standardCheck is an app's own Standard Webhooks verification.
func standardCheck(secret string) func(http.Header, []byte) error {
	return func(h http.Header, body []byte) error {
		id, ts, sig := h.Get("webhook-id"), h.Get("webhook-timestamp"), h.Get("webhook-signature")
		if id == "" || ts == "" || sig == "" {
			return errors.New("missing webhook headers")
		}
		key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
		if err != nil {
			return err
		}
		mac := hmac.New(sha256.New, key)
		fmt.Fprintf(mac, "%s.%s.", id, ts)
		mac.Write(body)
		want := "v1," + base64.StdEncoding.EncodeToString(mac.Sum(nil))
		ok := false
		for _, s := range strings.Fields(sig) {
			ok = ok || hmac.Equal([]byte(s), []byte(want))
		}
		if !ok {
			return errors.New("bad signature")
		}
		t, _ := strconv.ParseInt(ts, 10, 64)
		if d := time.Since(time.Unix(t, 0)); d > 300*time.Second || d < -300*time.Second {
			return fmt.Errorf("timestamp too old: %s", d.Round(time.Second))
		}
		return nil
	}
}

// moniteHeader signs body the way Monite does, at t.
func moniteHeader(secret string, t time.Time, body []byte) string {
	mac := hmac.New(sha256.New, []byte(secret))
	fmt.Fprintf(mac, "%d.", t.Unix())
	mac.Write(body)
	return fmt.Sprintf("t=%d,v1=%s", t.Unix(), hex.EncodeToString(mac.Sum(nil)))
}

// cliResult is what one run of the CLI printed and returned.
type cliResult struct {
	stdout, stderr string
	err            error
}

// exitCode is what main would exit with.
func (r cliResult) exitCode() int {
	var ue usageError
	switch {
	case r.err == nil:
		return 0
	case errors.As(r.err, &ue):
		return 2
	}
	return 1
}

// execCLI runs hooktap with args. Environment variables it reads are set
// by the caller with t.Setenv.
func execCLI(t *testing.T, args ...string) cliResult {
	t.Helper()
	var out, errOut bytes.Buffer
	err := run(t.Context(), args, strings.NewReader(""), &out, &errOut)
	return cliResult{out.String(), errOut.String(), err}
}

// cleanEnv keeps the developer's own settings out of a test.
func cleanEnv(t *testing.T) {
	for _, k := range []string{"HOOKTAP_SECRET", "HOOKTAP_DB", "EDITOR", "VISUAL"} {
		t.Setenv(k, "")
	}
	t.Setenv("XDG_DATA_HOME", t.TempDir())
}

var deliveryCount atomic.Int64

// storedDelivery is a Monite payable.created delivery as the agent records
// it, signed at signedAt, received at receivedAt and forwarded to target.
func storedDelivery(t *testing.T, db, target string, signedAt, receivedAt time.Time) *store.Delivery {
	t.Helper()
	body := []byte(`{"id":"0e9b6a3c-6a4e-4f1f-9d3a-1c2b3d4e5f60","action":"payable.created","entity_id":"ent-1","object":{"id":"pay-1","status":"new"},"object_type":"payable"}`)
	h := http.Header{}
	h.Set("Content-Type", "application/json")
	h.Set("User-Agent", "Monite-Webhooks")
	h.Set("Monite-Signature", moniteHeader(testSecret, signedAt, body))
	d := &store.Delivery{
		ID: "dlv_" + strconv.FormatInt(time.Now().UnixNano(), 36) + strconv.FormatInt(deliveryCount.Add(1), 36), Channel: "dev", ReceivedAt: receivedAt.UTC(),
		Method: "POST", Path: "/billing", Query: "src=monite", Header: h, Body: body,
		RemoteAddr: "203.0.113.7", Host: "relay.example", Proto: "https",
		ObjectType: "payable", Action: "payable.created", EntityID: "ent-1", ObjectID: "pay-1",
		EventID: "0e9b6a3c-6a4e-4f1f-9d3a-1c2b3d4e5f60",
	}
	d.Verify(testSecret)
	insertDelivery(t, db, d, target)
	return d
}

// insertDelivery stores d with one forward attempt to target (none when
// target is empty).
func insertDelivery(t *testing.T, db string, d *store.Delivery, target string) {
	t.Helper()
	ctx := t.Context()
	st, err := store.Open(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if err := store.Wait(ctx, st.Insert(d)); err != nil {
		t.Fatal(err)
	}
	if target == "" {
		return
	}
	f, err := forward.New(target, 0)
	if err != nil {
		t.Fatal(err)
	}
	a := f.Forward(ctx, forward.RequestOf(d))
	a.DeliveryID, a.Kind = d.ID, store.KindForward
	if err := store.Wait(ctx, st.AddAttempt(a)); err != nil {
		t.Fatal(err)
	}
}

func loadDelivery(t *testing.T, db, id string) *store.Delivery {
	t.Helper()
	st, err := store.OpenExisting(t.Context(), db)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	d, err := st.Get(t.Context(), id)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestReplaySendsStoredBytes(t *testing.T) {
	cleanEnv(t)
	app := newRecordingApp(t, moniteCheck(testSecret))
	db := filepath.Join(t.TempDir(), "hooktap.db")
	hourAgo := time.Now().Add(-time.Hour)
	d := storedDelivery(t, db, app.URL+"/webhooks", hourAgo, hourAgo)
	if got := d.Signature; got != signing.Valid {
		t.Fatalf("stored signature = %s, want valid as received", got)
	}

	r := execCLI(t, "replay", d.ID[:10], "--db", db)
	if r.err != nil {
		t.Fatalf("replay: %v\n%s", r.err, r.stderr)
	}
	reqs := app.requests()
	if len(reqs) != 2 {
		t.Fatalf("app got %d requests, want the forward and the replay", len(reqs))
	}
	first, again := reqs[0], reqs[1]
	if !bytes.Equal(again.Body, first.Body) || !bytes.Equal(again.Body, d.Body) {
		t.Errorf("replayed body differs:\n got %s\nwant %s", again.Body, d.Body)
	}
	if again.Path != "/webhooks/billing?src=monite" || again.Path != first.Path {
		t.Errorf("replayed to %s, first went to %s", again.Path, first.Path)
	}
	assertSameHeader(t, first.Header, again.Header)
	if again.Header.Get("Monite-Signature") != d.Header.Get("Monite-Signature") {
		t.Errorf("old signature not kept")
	}
	// The app's 300 s tolerance rejects the old signature: that is the point.
	for _, want := range []string{"replay of " + d.ID, "attempt 2", "400 Bad Request", "X-App: test", "timestamp too old"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("output lacks %q:\n%s", want, r.stdout)
		}
	}
	got := loadDelivery(t, db, d.ID)
	if got.Attempts != 2 || got.History[1].Kind != store.KindReplay || got.Status != 400 {
		t.Errorf("after replay: attempts %d, last kind %s, status %d", got.Attempts, got.History[len(got.History)-1].Kind, got.Status)
	}
}

// assertSameHeader compares two requests' headers, ignoring what the HTTP
// client sets per connection.
func assertSameHeader(t *testing.T, want, got http.Header) {
	t.Helper()
	w, g := want.Clone(), got.Clone()
	for _, h := range []http.Header{w, g} {
		h.Del("Accept-Encoding")
	}
	wj, _ := json.Marshal(w)
	gj, _ := json.Marshal(g)
	if !bytes.Equal(wj, gj) {
		t.Errorf("headers differ:\n got %s\nwant %s", gj, wj)
	}
}

func TestReplayToAndJSON(t *testing.T) {
	cleanEnv(t)
	app := newRecordingApp(t, nil)
	other := newRecordingApp(t, nil)
	db := filepath.Join(t.TempDir(), "hooktap.db")
	d := storedDelivery(t, db, app.URL+"/webhooks", time.Now(), time.Now())

	r := execCLI(t, "replay", d.ID, "--to", other.URL+"/hooks", "--db", db, "--json")
	if r.err != nil {
		t.Fatalf("replay: %v\n%s", r.err, r.stderr)
	}
	var l sentLine
	if err := json.Unmarshal([]byte(r.stdout), &l); err != nil {
		t.Fatalf("not one JSON object: %v\n%s", err, r.stdout)
	}
	if l.Type != "replay" || l.ID != d.ID || l.Status != 200 || l.Attempt != 2 || l.Body == nil || *l.Body != `{"ok":true}` ||
		l.Header.Get("X-App") != "test" || l.Target != other.URL+"/hooks/billing?src=monite" {
		t.Errorf("json line = %+v", l)
	}
	if n := len(other.requests()); n != 1 {
		t.Fatalf("--to app got %d requests", n)
	}
	if got := other.requests()[0]; got.Path != "/hooks/billing?src=monite" || !bytes.Equal(got.Body, d.Body) {
		t.Errorf("--to app got %s %s", got.Path, got.Body)
	}
}

func TestReplayErrors(t *testing.T) {
	cleanEnv(t)
	db := filepath.Join(t.TempDir(), "hooktap.db")
	app := newRecordingApp(t, nil)
	d := storedDelivery(t, db, app.URL, time.Now(), time.Now())
	never := &store.Delivery{ID: "dlv_never", ReceivedAt: time.Now(), Method: "POST", Header: http.Header{}, Body: []byte("{}")}
	insertDelivery(t, db, never, "")
	down := httptest.NewServer(http.NotFoundHandler())
	downURL := down.URL
	down.Close()

	tests := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"no id", []string{"replay", "--db", db}, 2, "needs a delivery id"},
		{"two ids", []string{"replay", "a", "b", "--db", db}, 2, "one delivery id"},
		{"unknown id", []string{"replay", "dlv_nope", "--db", db}, 1, "no such delivery"},
		{"no store", []string{"replay", d.ID, "--db", filepath.Join(t.TempDir(), "none.db")}, 1, ""},
		{"never forwarded", []string{"replay", "dlv_never", "--db", db}, 1, "--to URL"},
		{"app down", []string{"replay", d.ID, "--to", downURL, "--db", db}, 1, "connection refused"},
		{"bad --to", []string{"replay", d.ID, "--to", "ftp://x", "--db", db}, 1, "http:// or https://"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := execCLI(t, tt.args...)
			if r.exitCode() != tt.code {
				t.Fatalf("exit %d (%v), want %d", r.exitCode(), r.err, tt.code)
			}
			if !strings.Contains(r.err.Error(), tt.want) {
				t.Errorf("error %q lacks %q", r.err, tt.want)
			}
		})
	}
}

func TestResendPassesVerifier(t *testing.T) {
	cleanEnv(t)
	app := newRecordingApp(t, moniteCheck(testSecret))
	db := filepath.Join(t.TempDir(), "hooktap.db")
	hourAgo := time.Now().Add(-time.Hour)
	d := storedDelivery(t, db, app.URL+"/webhooks", hourAgo, time.Now())
	if d.Signature != signing.Expired {
		t.Fatalf("stored signature = %s, want expired", d.Signature)
	}

	t.Run("secret from env", func(t *testing.T) {
		t.Setenv("HOOKTAP_SECRET", testSecret)
		r := execCLI(t, "resend", d.ID, "--db", db)
		if r.err != nil {
			t.Fatalf("resend: %v\n%s%s", r.err, r.stdout, r.stderr)
		}
		for _, want := range []string{"resend of " + d.ID, "signed with monite (secret from HOOKTAP_SECRET)", "200 OK", `{"ok":true}`} {
			if !strings.Contains(r.stdout, want) {
				t.Errorf("output lacks %q:\n%s", want, r.stdout)
			}
		}
		last := app.requests()[len(app.requests())-1]
		if !bytes.Equal(last.Body, d.Body) {
			t.Errorf("resent body changed: %s", last.Body)
		}
		if last.Header.Get("Monite-Signature") == d.Header.Get("Monite-Signature") {
			t.Error("resend kept the old signature")
		}
		assertNoSecret(t, r)
	})
	t.Run("set and flag secret", func(t *testing.T) {
		r := execCLI(t, "resend", d.ID, "--db", db, "--secret", testSecret, "--set", "object.status=paid", "--set", "object.amount=1200", "--json")
		if r.err != nil {
			t.Fatalf("resend: %v\n%s%s", r.err, r.stdout, r.stderr)
		}
		var l sentLine
		if err := json.Unmarshal([]byte(r.stdout), &l); err != nil {
			t.Fatal(err)
		}
		if l.Status != 200 || l.Scheme != "monite" || l.SecretFrom != "--secret" || l.Type != "resend" {
			t.Errorf("json = %+v", l)
		}
		last := app.requests()[len(app.requests())-1]
		want := `{"id":"0e9b6a3c-6a4e-4f1f-9d3a-1c2b3d4e5f60","action":"payable.created","entity_id":"ent-1","object":{"id":"pay-1","status":"paid","amount":1200},"object_type":"payable"}`
		if string(last.Body) != want {
			t.Errorf("body:\n got %s\nwant %s", last.Body, want)
		}
		assertNoSecret(t, r)
	})
	t.Run("new id", func(t *testing.T) {
		r := execCLI(t, "resend", d.ID, "--db", db, "--secret", testSecret, "--new-id")
		if r.err != nil {
			t.Fatalf("resend: %v", r.err)
		}
		var body struct{ ID string }
		last := app.requests()[len(app.requests())-1]
		json.Unmarshal(last.Body, &body)
		if body.ID == "" || body.ID == d.EventID {
			t.Errorf("--new-id kept id %q", body.ID)
		}
	})
	t.Run("wrong secret fails the app", func(t *testing.T) {
		r := execCLI(t, "resend", d.ID, "--db", db, "--secret", "whsec_other")
		if r.err != nil || !strings.Contains(r.stdout, "400 Bad Request") || !strings.Contains(r.stdout, "bad signature") {
			t.Errorf("err %v, output:\n%s", r.err, r.stdout)
		}
	})

	got := loadDelivery(t, db, d.ID)
	kinds := []string{}
	for _, a := range got.History {
		kinds = append(kinds, string(a.Kind))
	}
	if strings.Join(kinds, ",") != "forward,resend,resend,resend,resend" {
		t.Errorf("attempt kinds = %v", kinds)
	}
}

func assertNoSecret(t *testing.T, r cliResult) {
	t.Helper()
	if strings.Contains(r.stdout+r.stderr, testSecret) || strings.Contains(r.stdout+r.stderr, "do-not-print") {
		t.Errorf("the secret was printed:\n%s%s", r.stdout, r.stderr)
	}
}

func TestResendUsage(t *testing.T) {
	cleanEnv(t)
	app := newRecordingApp(t, nil)
	db := filepath.Join(t.TempDir(), "hooktap.db")
	d := storedDelivery(t, db, app.URL, time.Now(), time.Now())
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"no secret", []string{"resend", d.ID, "--db", db}, "HOOKTAP_SECRET"},
		{"bad scheme", []string{"resend", d.ID, "--db", db, "--secret", "s", "--scheme", "nope"}, "unknown signing scheme"},
		{"bad set", []string{"resend", d.ID, "--db", db, "--secret", "s", "--set", "novalue"}, `bad --set "novalue": write path=value`},
		{"set through a string", []string{"resend", d.ID, "--db", db, "--secret", "s", "--set", "action.x=1"}, "neither an object nor an array"},
		{"set out of range with --edit", []string{"resend", d.ID, "--db", db, "--secret", "s", "--edit", "--set", "object.id.3=1"}, "--set object.id.3=1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := execCLI(t, tt.args...)
			if r.exitCode() != 2 || !strings.Contains(r.err.Error(), tt.want) {
				t.Errorf("exit %d, err %v; want 2 and %q", r.exitCode(), r.err, tt.want)
			}
		})
	}
	if n := len(app.requests()); n != 1 {
		t.Errorf("app got %d requests; bad usage must send nothing", n)
	}
}

// writeEditor writes an editor script that saves its input file's
// contents to seen, then runs action on the file ($1).
func writeEditor(t *testing.T, action string) (script, seen string) {
	t.Helper()
	dir := t.TempDir()
	script = filepath.Join(dir, "editor.sh")
	seen = filepath.Join(dir, "seen")
	src := fmt.Sprintf("#!/bin/sh\ncp \"$1\" %q\n%s\n", seen, action)
	if err := os.WriteFile(script, []byte(src), 0o755); err != nil {
		t.Fatal(err)
	}
	return script, seen
}

func TestResendEdit(t *testing.T) {
	cleanEnv(t)
	app := newRecordingApp(t, moniteCheck(testSecret))
	db := filepath.Join(t.TempDir(), "hooktap.db")
	d := storedDelivery(t, db, app.URL, time.Now().Add(-time.Hour), time.Now())
	t.Setenv("HOOKTAP_SECRET", testSecret)
	lastBody := func() []byte { return app.requests()[len(app.requests())-1].Body }

	t.Run("edited JSON is compacted", func(t *testing.T) {
		script, seen := writeEditor(t, `sed -i 's/"new"/"approved"/' "$1"`)
		t.Setenv("EDITOR", script)
		r := execCLI(t, "resend", d.ID, "--db", db, "--edit", "--set", "object.note=from set")
		if r.err != nil {
			t.Fatalf("resend --edit: %v\n%s", r.err, r.stderr)
		}
		shown, _ := os.ReadFile(seen)
		if !strings.Contains(string(shown), "\n  \"action\": \"payable.created\",\n") || !strings.Contains(string(shown), `"note": "from set"`) {
			t.Errorf("the editor was not shown the pretty-printed body with --set applied:\n%s", shown)
		}
		want := `{"id":"0e9b6a3c-6a4e-4f1f-9d3a-1c2b3d4e5f60","action":"payable.created","entity_id":"ent-1","object":{"id":"pay-1","status":"approved","note":"from set"},"object_type":"payable"}`
		if got := string(lastBody()); got != want {
			t.Errorf("sent:\n got %s\nwant %s", got, want)
		}
		if !strings.Contains(r.stdout, "200 OK") {
			t.Errorf("the app did not accept the edited, re-signed body:\n%s", r.stdout)
		}
	})
	t.Run("unchanged file cancels", func(t *testing.T) {
		// As vi's :q! leaves it: resend without --edit sends it as stored.
		script, _ := writeEditor(t, "true")
		t.Setenv("EDITOR", "")
		t.Setenv("VISUAL", script) // EDITOR empty: VISUAL is used
		before := len(app.requests())
		r := execCLI(t, "resend", d.ID, "--db", db, "--edit")
		if r.exitCode() != 1 || r.err == nil || !strings.Contains(r.err.Error(), "not changed; edit cancelled, nothing was sent") {
			t.Errorf("exit %d, err %v", r.exitCode(), r.err)
		}
		if len(app.requests()) != before {
			t.Error("a cancelled edit sent a request")
		}
	})
	t.Run("empty file aborts", func(t *testing.T) {
		script, _ := writeEditor(t, `: > "$1"`)
		t.Setenv("EDITOR", script)
		before := len(app.requests())
		r := execCLI(t, "resend", d.ID, "--db", db, "--edit")
		if r.exitCode() != 1 || !strings.Contains(r.err.Error(), "empty") || !strings.Contains(r.err.Error(), "nothing was sent") {
			t.Errorf("exit %d, err %v", r.exitCode(), r.err)
		}
		if len(app.requests()) != before {
			t.Error("an aborted edit sent a request")
		}
	})
	t.Run("failing editor aborts", func(t *testing.T) {
		script, _ := writeEditor(t, "exit 3")
		t.Setenv("EDITOR", script)
		before := len(app.requests())
		r := execCLI(t, "resend", d.ID, "--db", db, "--edit")
		if r.exitCode() != 1 || len(app.requests()) != before {
			t.Errorf("exit %d, err %v, requests %d -> %d", r.exitCode(), r.err, before, len(app.requests()))
		}
	})
	t.Run("invalid JSON is sent as saved, with a warning", func(t *testing.T) {
		script, _ := writeEditor(t, `printf '{"broken":' > "$1"`)
		t.Setenv("EDITOR", script)
		r := execCLI(t, "resend", d.ID, "--db", db, "--edit")
		if r.err != nil {
			t.Fatal(r.err)
		}
		if string(lastBody()) != `{"broken":` || !strings.Contains(r.stderr, "no longer valid JSON") {
			t.Errorf("sent %s, stderr %q", lastBody(), r.stderr)
		}
	})
}

func TestBodyPreview(t *testing.T) {
	tests := []struct {
		body []byte
		want string
	}{
		{nil, "(empty body)\n"},
		{[]byte("ok"), "ok\n"},
		{[]byte{0xff, 0x00}, "(2 bytes of binary data)\n"},
		{[]byte("abcdef"), "abcd\n... (2 more bytes)\n"},
		{[]byte("aé"), "a\n... (2 more bytes)\n"}, // never cut a rune
	}
	for _, tt := range tests {
		limit := 4
		if string(tt.body) == "aé" {
			limit = 2
		}
		if got := bodyPreview(tt.body, limit); got != tt.want {
			t.Errorf("bodyPreview(%q) = %q, want %q", tt.body, got, tt.want)
		}
	}
}

// TestSentLineWithoutAction: a delivery with no action is named by its
// request, path included even when empty.
func TestSentLineWithoutAction(t *testing.T) {
	var out bytes.Buffer
	e := &env{stdout: &out, stderr: io.Discard}
	d := &store.Delivery{ID: "tye3abcd", Method: "POST"}
	printSent(e, sentReport{kind: "resend", d: d, a: &store.Attempt{Target: "http://127.0.0.1:3000/", Status: 200}}, false)
	if want := "resend of tye3abcd (POST /) to http://127.0.0.1:3000/"; !strings.Contains(out.String(), want) {
		t.Errorf("got %q, want %q", out.String(), want)
	}
}
