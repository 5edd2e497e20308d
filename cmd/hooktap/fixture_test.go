package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hooktap/hooktap/inspector/signing"
)

// verifyingApp checks each request's Monite signature with its secret, as
// a developer's handler does, and keeps the bodies it accepted.
type verifyingApp struct {
	*httptest.Server
	mu     sync.Mutex
	bodies []map[string]any
	bad    int
}

func newVerifyingApp(t *testing.T, secret string) *verifyingApp {
	a := &verifyingApp{}
	a.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		res := signing.Verify(r.Header, body, secret, time.Now())
		a.mu.Lock()
		defer a.mu.Unlock()
		if res.State != signing.Valid {
			a.bad++
			http.Error(w, res.Reason, http.StatusUnauthorized)
			return
		}
		var m map[string]any
		json.Unmarshal(body, &m)
		a.bodies = append(a.bodies, m)
	}))
	t.Cleanup(a.Close)
	return a
}

func (a *verifyingApp) got() ([]map[string]any, int) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]map[string]any(nil), a.bodies...), a.bad
}

// TestFixtures records a three-step flow through a real relay and agent,
// saves it as a fixture and sends it again twice, re-signed: the app's own
// signature check passes every time, each run has fresh event ids and one
// fresh payable id shared by its steps.
func TestFixtures(t *testing.T) {
	const secret = "whsec_fixture_test"
	recorder := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer recorder.Close()
	_, relayURL := startRelay(t)
	dir := t.TempDir()
	db := filepath.Join(dir, "f.db")
	agent := startProc(t, listenArgs(relayURL, "fx", recorder.URL, db)...)
	agent.line(t, `"type":"ready"`)

	var ids []string
	for i, action := range []string{"payable.created", "payable.approved", "payable.paid"} {
		body := fmt.Appendf(nil, `{"id":"evt_%d","created_at":"2024-05-25T10:00:00.000000Z","action":%q,"api_version":"2024-05-25","entity_id":"ent_1","object":{"id":"pay_orig"},"object_type":"payable"}`, i, action)
		req, _ := http.NewRequest("POST", relayURL+"/h/fx/billing", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		sc, _ := signing.Lookup("monite")
		sc.Sign(req.Header, signing.Message{ID: "m", Event: action, Timestamp: time.Now().Add(-time.Hour), Body: body}, secret)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		var l struct{ ID string }
		json.Unmarshal([]byte(agent.line(t, `"type":"delivery"`)), &l)
		ids = append(ids, l.ID)
	}

	flow := filepath.Join(dir, "flow.json")
	if _, stderr, code := hooktapOut(t, nil, append(append([]string{"events", "save"}, ids...), flow, "--db", db)...); code != 0 {
		t.Fatalf("events save: exit %d %q", code, stderr)
	}
	saved, _ := os.ReadFile(flow)
	if bytes.Contains(bytes.ToLower(saved), []byte("signature")) || !bytes.Contains(saved, []byte(`"path": "/billing"`)) {
		t.Fatalf("fixture:\n%s", saved)
	}
	if _, stderr, code := hooktapOut(t, nil, "events", "save", ids[0], flow, "--db", db); code != 1 || !strings.Contains(stderr, "pass --force") {
		t.Errorf("saving over a fixture: exit %d %q", code, stderr)
	}

	app := newVerifyingApp(t, secret)
	stdout, stderr, code := hooktapOut(t, nil, "trigger", "--fixture", flow, "--to", app.URL, "--secret", secret, "--count", "2", "--json")
	if code != 0 || strings.Count(stdout, `"type":"trigger"`) != 6 {
		t.Fatalf("trigger --fixture: exit %d\n%s\n%s", code, stdout, stderr)
	}
	bodies, bad := app.got()
	if bad != 0 || len(bodies) != 6 {
		t.Fatalf("app accepted %d, refused %d", len(bodies), bad)
	}
	events := map[string]bool{}
	for run := range 2 {
		obj := bodies[run*3]["object"].(map[string]any)["id"]
		for step := range 3 {
			b := bodies[run*3+step]
			if id := b["id"].(string); events[id] || strings.HasPrefix(id, "evt_") {
				t.Errorf("run %d step %d: event id %s not fresh", run, step, id)
			} else {
				events[id] = true
			}
			if got := b["object"].(map[string]any)["id"]; got != obj || got == "pay_orig" {
				t.Errorf("run %d step %d: payable %v, want the run's fresh %v", run, step, got, obj)
			}
		}
		if run == 1 && obj == bodies[0]["object"].(map[string]any)["id"] {
			t.Error("both runs used one payable id")
		}
	}

	// --from sends recorded deliveries without a file.
	if _, stderr, code := hooktapOut(t, nil, "trigger", "--from", ids[2], "--db", db, "--to", app.URL, "--secret", secret); code != 0 {
		t.Fatalf("trigger --from: exit %d %q", code, stderr)
	}
	if bodies, bad := app.got(); len(bodies) != 7 || bad != 0 || bodies[6]["action"] != "payable.paid" {
		t.Errorf("after --from the app has %d (refused %d)", len(bodies), bad)
	}

	// A HAR export is not a fixture: one line, exit 2.
	har := filepath.Join(dir, "x.har")
	os.WriteFile(har, []byte(`{"log":{"version":"1.2","entries":[]}}`), 0o644)
	if _, stderr, code := hooktapOut(t, nil, "trigger", "--fixture", har, "--to", app.URL); code != 2 ||
		!strings.Contains(stderr, "not a hooktap fixture") || strings.Count(strings.TrimSpace(stderr), "\n") != 0 {
		t.Errorf("trigger --fixture x.har: exit %d %q", code, stderr)
	}
}
