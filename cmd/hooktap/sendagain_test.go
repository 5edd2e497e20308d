package main

import (
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/hooktap/hooktap/inspector/signing"
)

// TestTriggeredDeliveriesSendAgain: deliveries that hooktap trigger sent
// through a relay can be saved as a fixture and sent through the relay
// again (--fixture, --from, resend and replay --to the relay): hooktap's
// own trips are not hops, so the relay does not answer 508 Loop Detected.
func TestTriggeredDeliveriesSendAgain(t *testing.T) {
	const secret = "whsec_sendagain_test"
	app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer app.Close()
	_, relayURL := startRelay(t)
	dir := t.TempDir()
	db := filepath.Join(dir, "a.db")
	agent := startProc(t, listenArgs(relayURL, "fx", app.URL, db)...)
	agent.line(t, `"type":"ready"`)
	ingress := relayURL + "/h/fx"

	if out, stderr, code := hooktapOut(t, nil, "trigger", "payable.approved", "--count", "3", "--secret", secret, "--to", ingress); code != 0 {
		t.Fatalf("trigger: exit %d\n%s%s", code, out, stderr)
	}
	var ids []string
	for range 3 {
		var l struct {
			ID     string
			Status int
		}
		json.Unmarshal([]byte(agent.line(t, `"type":"delivery"`)), &l)
		ids = append(ids, l.ID)
	}
	flow := filepath.Join(dir, "flow.json")
	if _, stderr, code := hooktapOut(t, nil, append(append([]string{"events", "save"}, ids...), flow, "--db", db)...); code != 0 {
		t.Fatalf("events save: exit %d %q", code, stderr)
	}
	if saved, _ := os.ReadFile(flow); strings.Contains(string(saved), "Via") {
		t.Errorf("the fixture keeps a Via header hooktap added:\n%s", saved)
	}
	for _, args := range [][]string{
		{"trigger", "--fixture", flow, "--to", ingress, "--secret", secret},
		{"trigger", "--from", ids[0], "--db", db, "--to", ingress, "--secret", secret},
		{"resend", ids[1], "--db", db, "--to", ingress, "--secret", secret},
		{"replay", ids[2], "--db", db, "--to", ingress},
	} {
		out, stderr, code := hooktapOut(t, nil, args...)
		if code != 0 || strings.Contains(out, "508") {
			t.Errorf("%s %s: exit %d\n%s%s", args[0], args[1], code, out, stderr)
		}
	}
	// A fixture saved before Via was left out goes through too.
	old := filepath.Join(dir, "old.json")
	os.WriteFile(old, []byte(`{"format":"hooktap-fixture/1","steps":[{"method":"POST","headers":{"Via":["1.1 hooktap"]},"body":{"id":"e","action":"payable.paid","object":{"id":"p"},"object_type":"payable"}}]}`), 0o644)
	if out, stderr, code := hooktapOut(t, nil, "trigger", "--fixture", old, "--to", ingress); code != 0 {
		t.Errorf("trigger --fixture of an old fixture: exit %d\n%s%s", code, out, stderr)
	}
}

// TestLoopStillRefusedAfterReplay: an agent that forwards back at its
// relay still makes a loop the relay ends when the request starts as a
// replay of a recorded delivery (its hooktap Via entries dropped, then one
// per real trip): one more delivery, refused with 508.
func TestLoopStillRefusedAfterReplay(t *testing.T) {
	_, relayURL := startRelay(t, "--response-timeout", "3s")
	db := filepath.Join(t.TempDir(), "a.db")
	agent := startProc(t, listenArgs(relayURL, "lp", relayURL+"/h/lp", db)...)
	agent.line(t, `"type":"ready"`)
	resp, err := http.Post(relayURL+"/h/lp", "application/json", strings.NewReader(`{"action":"payable.paid"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	var l struct{ ID string }
	json.Unmarshal([]byte(agent.line(t, `"status":508`)), &l) // the trip the relay refused
	before, _, _ := hooktapOut(t, nil, "events", "list", "--db", db, "--json")
	if out, stderr, code := hooktapOut(t, nil, "replay", l.ID, "--db", db, "--json"); code != 0 {
		t.Fatalf("replay into the loop: exit %d\n%s%s", code, out, stderr)
	}
	agent.line(t, `"status":508`) // the replay's trip round, refused
	after, _, _ := hooktapOut(t, nil, "events", "list", "--db", db, "--json")
	if n, m := strings.Count(before, `"channel":"lp"`), strings.Count(after, `"channel":"lp"`); m != n+1 {
		t.Fatalf("the replay made %d deliveries, want 1", m-n)
	}
}

// TestResendUnsignedNeedsNoSecret: a delivery that arrived unsigned is
// resent unsigned, edited or not, with no secret; a signed one still needs
// the secret, and says so before the editor opens.
func TestResendUnsignedNeedsNoSecret(t *testing.T) {
	cleanEnv(t)
	app := newRecordingApp(t, nil)
	db := filepath.Join(t.TempDir(), "hooktap.db")
	d := storedDelivery(t, db, app.URL, time.Now(), time.Now())
	d.ID += "u"
	d.Header.Del("Monite-Signature")
	d.Verify("")
	insertDelivery(t, db, d, app.URL)

	r := execCLI(t, "resend", d.ID, "--db", db, "--set", "object.id=x")
	if r.err != nil {
		t.Fatalf("resend of an unsigned delivery: %v\n%s", r.err, r.stderr)
	}
	got := app.requests()[len(app.requests())-1]
	if signing.Detect(got.Header) != nil || !strings.Contains(string(got.Body), `"object":{"id":"x"`) {
		t.Errorf("sent %s with header %v; want the edit, unsigned", got.Body, got.Header)
	}
	if !strings.Contains(r.stdout, "unsigned, as the delivery arrived") {
		t.Errorf("output does not say it went unsigned:\n%s", r.stdout)
	}

	signed := storedDelivery(t, db, app.URL, time.Now(), time.Now())
	script, seen := writeEditor(t, "true")
	t.Setenv("EDITOR", script)
	before := len(app.requests())
	r = execCLI(t, "resend", signed.ID, "--db", db, "--edit")
	if r.exitCode() != 2 || !strings.Contains(r.err.Error(), "needs the signing secret") || len(app.requests()) != before {
		t.Errorf("resend --edit of a signed delivery with no secret: exit %d, err %v", r.exitCode(), r.err)
	}
	if _, err := os.Stat(seen); err == nil {
		t.Error("the editor opened although the resend could not be signed")
	}
}

// TestDevEmulatorSecretResendVerify: a delivery the provider emulator of
// hooktap dev made is resent re-signed and verified with its
// subscription's secret, with no --secret: by the CLI (which reads the
// emulator's data dir) and by the dev session's web inspector. The secret
// is never printed.
func TestDevEmulatorSecretResendVerify(t *testing.T) {
	app := newSignedApp(t)
	pdata := t.TempDir()
	agentDB := t.TempDir() + "/agent.db"
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	web := "http://" + ln.Addr().String()
	ln.Close()
	dev := startProc(t, "dev", "--addr", "127.0.0.1:0", "--forward-to", app.URL+"/webhooks", "--db", agentDB,
		"--data", t.TempDir(), "--provider-data", pdata, "--web", strings.TrimPrefix(web, "http://"), "--json")
	var ready struct {
		URL         string `json:"url"`
		ProviderAPI string `json:"provider_api"`
	}
	json.Unmarshal([]byte(dev.line(t, `"type":"ready"`)), &ready)
	var sub struct{ ID, Secret string }
	if code := moniteCall(t, "POST", ready.ProviderAPI+"/webhook_subscriptions",
		map[string]any{"object_type": "payable", "url": ready.URL, "event_types": []string{"created"}}, &sub); code != 201 {
		t.Fatalf("create: %d", code)
	}
	app.mu.Lock()
	app.secret = sub.Secret
	app.mu.Unlock()
	if code := moniteCall(t, "POST", ready.ProviderAPI+"/_emulator/events", map[string]any{"action": "payable.created"}, nil); code != 201 {
		t.Fatalf("emit: %d", code)
	}
	var d struct{ ID, Signature string }
	json.Unmarshal([]byte(dev.line(t, `"type":"delivery"`)), &d)
	if d.Signature != "valid" {
		t.Fatalf("delivery %+v", d)
	}
	app.wait(t, 1)

	out, stderr, code := hooktapOut(t, nil, "resend", d.ID, "--db", agentDB, "--provider-data", pdata)
	if code != 0 || !strings.Contains(out, "secret from the provider emulator") || strings.Contains(out+stderr, sub.Secret) {
		t.Fatalf("resend with no --secret: exit %d\n%s%s", code, out, stderr)
	}
	app.wait(t, 2)
	out, stderr, code = hooktapOut(t, nil, "verify", d.ID, "--db", agentDB, "--provider-data", pdata)
	if code != 0 || !strings.Contains(out, "as received  valid") || strings.Contains(out+stderr, sub.Secret) {
		t.Fatalf("verify with no --secret: exit %d\n%s%s", code, out, stderr)
	}
	// An explicit --secret still wins: the wrong one fails.
	if out, _, code := hooktapOut(t, nil, "verify", d.ID, "--db", agentDB, "--provider-data", pdata, "--secret", "whsec_wrong"); code != 1 {
		t.Errorf("verify --secret whsec_wrong: exit %d\n%s", code, out)
	}

	// The dev session's web inspector resends it with no secret either.
	var html []byte
	deadline := time.Now().Add(20 * time.Second)
	for {
		if resp, err := http.Get(web + "/"); err == nil {
			html, _ = io.ReadAll(resp.Body)
			resp.Body.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the web inspector did not start")
		}
		time.Sleep(20 * time.Millisecond)
	}
	token := regexp.MustCompile(`hooktap-token" content="([A-Z2-7]+)"`).FindSubmatch(html)
	if token == nil {
		t.Fatal("no token in the page")
	}
	req, _ := http.NewRequest("POST", web+"/api/deliveries/"+d.ID+"/resend", strings.NewReader(`{}`))
	req.Header.Set("X-Hooktap-Token", string(token[1]))
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || strings.Contains(string(body), sub.Secret) {
		t.Fatalf("web resend: %d %s", resp.StatusCode, body)
	}
	app.wait(t, 3)
	app.mu.Lock()
	defer app.mu.Unlock()
	if !app.got[1] || !app.got[2] {
		t.Errorf("the app's own check of the resends: %v", app.got)
	}
}
