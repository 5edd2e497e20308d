package main

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/hooktap/hooktap/inspector/catalog"
)

func TestTriggerSignedCount(t *testing.T) {
	cleanEnv(t)
	app := newRecordingApp(t, moniteCheck(testSecret))
	r := execCLI(t, "trigger", "payable.created", "--to", app.URL+"/webhooks", "--secret", testSecret,
		"--count", "3", "--entity-id", "ent-42", "--set", "object.status=paid")
	if r.err != nil {
		t.Fatalf("trigger: %v\n%s%s", r.err, r.stdout, r.stderr)
	}
	reqs := app.requests()
	if len(reqs) != 3 {
		t.Fatalf("app got %d requests, want 3", len(reqs))
	}
	ids := map[string]bool{}
	for _, req := range reqs {
		var p struct{ ID, Action, EntityID, APIVersion string }
		var m map[string]any
		if err := json.Unmarshal(req.Body, &m); err != nil {
			t.Fatalf("body is not JSON: %s", req.Body)
		}
		p.ID, _ = m["id"].(string)
		p.Action, _ = m["action"].(string)
		p.EntityID, _ = m["entity_id"].(string)
		p.APIVersion, _ = m["api_version"].(string)
		obj, _ := m["object"].(map[string]any)
		if p.Action != "payable.created" || p.EntityID != "ent-42" || p.APIVersion != catalog.DefaultAPIVersion || obj["status"] != "paid" {
			t.Errorf("payload = %s", req.Body)
		}
		ids[p.ID] = true
		if req.Path != "/webhooks" || req.Header.Get("Content-Type") != "application/json" {
			t.Errorf("sent to %s with content type %q", req.Path, req.Header.Get("Content-Type"))
		}
	}
	if len(ids) != 3 {
		t.Errorf("ids not fresh: %v", ids)
	}
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if len(lines) != 3 {
		t.Fatalf("want one line per request:\n%s", r.stdout)
	}
	for _, l := range lines {
		if !strings.Contains(l, " 200 ") || !strings.Contains(l, "payable.created") || !strings.Contains(l, "ms") {
			t.Errorf("line %q lacks status, event or duration", l)
		}
	}
	if !strings.Contains(r.stderr, "signing with monite (secret from --secret)") {
		t.Errorf("stderr = %q", r.stderr)
	}
	assertNoSecret(t, r)
}

func TestTriggerSchemesAndVersions(t *testing.T) {
	cleanEnv(t)
	const stdSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	app := newRecordingApp(t, standardCheck(stdSecret))
	t.Setenv("HOOKTAP_SECRET", stdSecret)
	r := execCLI(t, "trigger", "counterpart.delete", "--to", app.URL, "--scheme", "standard", "--api-version", "2023-09-01", "--json")
	if r.err != nil {
		t.Fatalf("trigger: %v\n%s%s", r.err, r.stdout, r.stderr)
	}
	var l triggerLine
	if err := json.Unmarshal([]byte(r.stdout), &l); err != nil {
		t.Fatalf("not a JSON line: %v\n%s", err, r.stdout)
	}
	if l.Status != 200 || l.Scheme != "standard" || l.Event != "counterpart.delete" || l.EventID == "" {
		t.Errorf("line = %+v", l)
	}
	req := app.requests()[0]
	if req.Header.Get("webhook-id") != l.EventID {
		t.Errorf("webhook-id %q, want the event id %q", req.Header.Get("webhook-id"), l.EventID)
	}
	var m map[string]any
	json.Unmarshal(req.Body, &m)
	if m["significance"] == nil || m["api_version"] != "2023-09-01" {
		t.Errorf("not the 2023-09-01 shape: %s", req.Body)
	}
	if r.stderr != "" {
		t.Errorf("--json wrote to stderr: %q", r.stderr)
	}
}

func TestTriggerUnsigned(t *testing.T) {
	cleanEnv(t)
	app := newRecordingApp(t, nil)
	r := execCLI(t, "trigger", "entity.onboarding_requirements.updated", "--to", app.URL, "--api-version", "legacy")
	if r.err != nil {
		t.Fatal(r.err)
	}
	if !strings.Contains(r.stderr, "unsigned") {
		t.Errorf("no unsigned note: %q", r.stderr)
	}
	req := app.requests()[0]
	for k := range req.Header {
		if strings.Contains(strings.ToLower(k), "signature") {
			t.Errorf("unsigned request carries %s", k)
		}
	}
	var m map[string]any
	json.Unmarshal(req.Body, &m)
	if m["action"] != "update" || m["entity_id"] != nil {
		t.Errorf("not the legacy shape: %s", req.Body)
	}
}

func TestTriggerFailures(t *testing.T) {
	cleanEnv(t)
	failing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "nope", http.StatusInternalServerError)
	}))
	defer failing.Close()
	down := httptest.NewServer(http.NotFoundHandler())
	downURL := down.URL
	down.Close()
	tests := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"unknown event", []string{"trigger", "payable.craeted", "--to", failing.URL}, 2, "did you mean payable.created"},
		{"no event", []string{"trigger"}, 2, "needs an event"},
		{"bad version", []string{"trigger", "payable.created", "--api-version", "1999-01-01", "--to", failing.URL}, 2, "unknown api version"},
		{"bad scheme", []string{"trigger", "payable.created", "--scheme", "x", "--to", failing.URL}, 2, "unknown signing scheme"},
		{"bad count", []string{"trigger", "payable.created", "--count", "0", "--to", failing.URL}, 2, "--count"},
		{"bad to", []string{"trigger", "payable.created", "--to", "localhost:3000"}, 2, "--to"},
		{"app says 500", []string{"trigger", "payable.created", "--to", failing.URL, "--count", "2"}, 1, "2 of 2 requests"},
		{"app down", []string{"trigger", "payable.created", "--to", downURL}, 1, "1 of 1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := execCLI(t, tt.args...)
			if r.exitCode() != tt.code || !strings.Contains(r.err.Error(), tt.want) {
				t.Errorf("exit %d, err %v; want %d and %q", r.exitCode(), r.err, tt.code, tt.want)
			}
		})
	}
}

func TestTriggerList(t *testing.T) {
	cleanEnv(t)
	r := execCLI(t, "trigger", "--list")
	if r.err != nil {
		t.Fatal(r.err)
	}
	for _, want := range []string{"2024-05-25 (default)", "2023-09-01", "legacy",
		"comment ", "create, created, update, updated", "counterpart_address", "made_default",
		"entity ", "payment_method.us_ach.activated"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("--list lacks %q", want)
		}
	}
	// One line per object type, every event on it.
	for _, ev := range catalog.All() {
		found := false
		for _, line := range strings.Split(r.stdout, "\n") {
			f := strings.Fields(line)
			if len(f) > 1 && f[0] == ev.ObjectType && strings.Contains(line, " "+ev.Name) {
				found = true
			}
		}
		if !found {
			t.Errorf("%s not listed under %s", ev.Name, ev.ObjectType)
		}
	}
	r = execCLI(t, "trigger", "--list", "--json")
	if n := strings.Count(r.stdout, "\n"); n != len(catalog.All())+len(catalog.MonkEvents()) {
		t.Errorf("--list --json printed %d lines, want %d", n, len(catalog.All())+len(catalog.MonkEvents()))
	}
}

// TestTriggerMonk: Monk's events are known, shaped as Monk sends them and
// signed with Monk's scheme and headers.
func TestTriggerMonk(t *testing.T) {
	cleanEnv(t)
	const secret = "monk_secret_123"
	app := newRecordingApp(t, nil)
	for _, args := range [][]string{
		{"trigger", "invoice.created", "--to", app.URL, "--scheme", "monk", "--secret", secret, "--json"},
		{"trigger", "credit.threshold_crossed", "--to", app.URL, "--secret", secret, "--json"}, // monk by default for Monk's events
	} {
		r := execCLI(t, args...)
		var l triggerLine
		if r.err != nil || json.Unmarshal([]byte(r.stdout), &l) != nil || l.Status != 200 || l.Scheme != "monk" {
			t.Fatalf("%v: %v %s %s", args, r.err, r.stdout, r.stderr)
		}
		reqs := app.requests()
		req := reqs[len(reqs)-1]
		h := req.Header
		if h.Get("User-Agent") != "Monk-Webhook/1.0" || h.Get("X-Monk-Event") != args[1] || h.Get("X-Monk-Delivery-Id") != l.EventID || h.Get("Content-Type") != "application/json" {
			t.Errorf("%s headers: %v", args[1], h)
		}
		ts, sig, _ := strings.Cut(strings.TrimPrefix(h.Get("X-Monk-Signature"), "t="), ",v1=")
		mac := hmac.New(sha256.New, []byte(secret))
		mac.Write([]byte(ts + "." + string(req.Body)))
		if sig != hex.EncodeToString(mac.Sum(nil)) {
			t.Errorf("%s: X-Monk-Signature %q does not verify", args[1], h.Get("X-Monk-Signature"))
		}
		var m map[string]any
		json.Unmarshal(req.Body, &m)
		if m["id"] == nil || m["createdAt"] == nil || m["updatedAt"] == nil || m["action"] != nil || m["object"] != nil {
			t.Errorf("%s: not Monk's flat body: %s", args[1], req.Body)
		}
	}
}

// TestTriggerProviderUsage: --provider sends through the emulator's
// subscriptions, so flags that choose a target, secret, scheme or shape are
// refused, and a bad URL or an emulator's refusal is one clear line.
func TestTriggerProviderUsage(t *testing.T) {
	cleanEnv(t)
	refusing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusUnauthorized)
		w.Write([]byte(`{"error": {"message": "not authenticated"}}`))
	}))
	defer refusing.Close()
	for _, c := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"trigger", "payable.created", "--provider", refusing.URL, "--secret", "s"}, 2, "drop --secret"},
		{[]string{"trigger", "payable.created", "--provider", refusing.URL, "--to", refusing.URL, "--scheme", "monk"}, 2, "drop --scheme, --to"},
		{[]string{"trigger", "payable.creatd", "--provider", refusing.URL}, 2, "did you mean payable.created"},
		{[]string{"trigger", "payable.created", "--provider", "localhost:8790"}, 2, "--provider"},
		{[]string{"trigger", "payable.created", "--provider", refusing.URL}, 1, "answered 401: {\"error\": {\"message\": \"not authenticated\"}}"},
	} {
		r := execCLI(t, c.args...)
		if r.exitCode() != c.code || r.err == nil || !strings.Contains(r.err.Error(), c.want) {
			t.Errorf("%v: exit %d, %v; want %d and %q", c.args[1:], r.exitCode(), r.err, c.code, c.want)
		}
	}
}
