package main

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// waitBegun waits until the background `hooktap wait` p says on stderr that
// it has begun.
func waitBegun(t *testing.T, p *proc) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		p.cmd.Stderr.(*lockedWriter).mu.Lock()
		s := p.stderr.String()
		p.cmd.Stderr.(*lockedWriter).mu.Unlock()
		if strings.Contains(s, "waiting for a delivery") {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("wait did not begin in 20s; stderr:\n%s", s)
		}
		time.Sleep(20 * time.Millisecond) // polling another process's output, with a deadline
	}
}

// waitExit waits for p to exit and returns its first stdout line and exit
// code.
func waitExit(t *testing.T, p *proc) (string, int) {
	t.Helper()
	var first string
	for l := range p.lines {
		if first == "" {
			first = l
		}
	}
	select {
	case err := <-p.done:
		p.done <- err
		code := 0
		if err != nil {
			code = p.cmd.ProcessState.ExitCode()
		}
		return first, code
	case <-time.After(30 * time.Second):
		t.Fatal("wait did not exit")
		return "", -1
	}
}

// TestWaitForDelivery runs `hooktap wait` as a CI script would, against a
// real relay and agent: it ignores what was recorded before it began and
// what does not match (another event, a failed answer), exits 0 with the
// delivery it waited for, 1 on timeout, and waits for a store that does not
// exist yet.
func TestWaitForDelivery(t *testing.T) {
	app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var ev struct{ ID string }
		json.NewDecoder(r.Body).Decode(&ev)
		if strings.HasPrefix(ev.ID, "fail") {
			w.WriteHeader(http.StatusInternalServerError)
		}
	}))
	defer app.Close()
	_, relayURL := startRelay(t)
	db := filepath.Join(t.TempDir(), "ci.db")
	agent := startProc(t, listenArgs(relayURL, "ci", app.URL, db)...)
	agent.line(t, `"type":"ready"`)
	ingress := relayURL + "/h/ci"
	// send posts an event and returns the id the agent recorded it under.
	send := func(id, action string) string {
		t.Helper()
		sendEvent(t, http.DefaultClient, ingress, id, action)
		var rec struct{ ID string }
		json.Unmarshal([]byte(agent.line(t, `"type":"delivery"`)), &rec)
		return rec.ID
	}
	oldPaid := send("old_paid", "payable.paid")

	w := startProc(t, "wait", "--db", db, "--for", "payable.*d", "--status", "2xx", "--timeout", "20s", "--json")
	waitBegun(t, w)
	send("fail_paid", "payable.paid")    // answered 500
	send("other", "counterpart.created") // another event
	newPaid := send("new_paid", "payable.paid")
	out, code := waitExit(t, w)
	var got struct{ ID, Action string }
	if code != 0 || json.Unmarshal([]byte(out), &got) != nil || got.ID != newPaid {
		t.Fatalf("wait: exit %d, stdout %q, stderr %s; want new_paid", code, out, w.stderr)
	}

	// --since looks back: the first match since then is the old one.
	stdout, stderr, code := hooktapOut(t, nil, "wait", "--db", db, "--for", "payable.paid", "--since", "1h", "--json")
	if code != 0 || !strings.Contains(stdout, `"`+oldPaid+`"`) {
		t.Fatalf("wait --since: exit %d, %q %q", code, stdout, stderr)
	}
	// The timeout bounds the wait, not the look at what is there: a match
	// recorded already is found however short the timeout.
	stdout, stderr, code = hooktapOut(t, nil, "wait", "--db", db, "--for", "payable.paid", "--since", "1h", "--timeout", "1ns", "--json")
	if code != 0 || !strings.Contains(stdout, `"`+oldPaid+`"`) {
		t.Fatalf("wait --since --timeout 1ns: exit %d, %q %q", code, stdout, stderr)
	}

	// Nothing comes: exit 1 with one line.
	_, stderr, code = hooktapOut(t, nil, "wait", "--db", db, "--for", "payable.canceled", "--timeout", "300ms")
	if lines := strings.Split(strings.TrimSpace(stderr), "\n"); code != 1 ||
		!strings.Contains(lines[len(lines)-1], "no delivery for payable.canceled was recorded within 300ms") {
		t.Fatalf("timeout: exit %d, stderr %q", code, stderr)
	}

	// A store that does not exist yet: wait for it, then for the delivery.
	db2 := filepath.Join(t.TempDir(), "later.db")
	w2 := startProc(t, "wait", "--db", db2, "--for", "payable.created", "--timeout", "20s", "--json")
	waitBegun(t, w2)
	agent2 := startProc(t, listenArgs(relayURL, "ci2", app.URL, db2)...)
	agent2.line(t, `"type":"ready"`)
	sendEvent(t, http.DefaultClient, relayURL+"/h/ci2", "created_1", "payable.created")
	out, code = waitExit(t, w2)
	if code != 0 || !strings.Contains(out, `"action":"payable.created"`) {
		t.Fatalf("wait for a later store: exit %d, stdout %q, stderr %s", code, out, w2.stderr)
	}
}

func TestWaitUsageErrors(t *testing.T) {
	for _, args := range [][]string{
		{"wait", "--timeout", "-1s"},
		{"wait", "--for", "payable.[", "--timeout", "1s"},
		{"wait", "--for", "a", "--action", "b"},
		{"wait", "--since", "yesterday"},
	} {
		_, stderr, code := hooktapOut(t, nil, args...)
		if code != 2 || strings.Count(strings.TrimSpace(stderr), "\n") != 0 {
			t.Errorf("%v: exit %d, stderr %q; want 2 and one line", args, code, stderr)
		}
	}
}

// TestWaitInAScript runs hooktap wait the way the README shows, in sh: in
// the background, then the event, then the shell's wait.
func TestWaitInAScript(t *testing.T) {
	app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer app.Close()
	_, relayURL := startRelay(t)
	dir := t.TempDir()
	db := filepath.Join(dir, "ci.db")
	agent := startProc(t, listenArgs(relayURL, "sh", app.URL, db)...)
	agent.line(t, `"type":"ready"`)
	script := `set -e
"$HOOKTAP" wait --db "$DB" --for payable.paid --status 2xx --timeout 20s --json > paid.json 2> wait.err &
w=$!
# the event happens once wait has begun
until grep -q "waiting for a delivery" wait.err; do sleep 0.05; done
curl -sS -o /dev/null -H 'Content-Type: application/json' \
  -d '{"action":"payable.paid","object_type":"payable","entity_id":"ent_script","object":{"id":"p"}}' "$INGRESS"
wait $w
grep -q '"entity_id":"ent_script"' paid.json
echo ok
`
	cmd := exec.Command("sh", "-c", script)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "HOOKTAP="+hooktapBin(t), "DB="+db, "INGRESS="+relayURL+"/h/sh")
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "ok") {
		t.Fatalf("script: %v\n%s", err, out)
	}
}
