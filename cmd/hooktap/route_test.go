package main

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// routeApp records the paths it is sent, in order.
func routeApp(t *testing.T) (*httptest.Server, chan string) {
	got := make(chan string, 16)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got <- r.URL.Path
	}))
	t.Cleanup(srv.Close)
	return srv, got
}

// recv takes the next path an app got, or fails after 20 s.
func recv(t *testing.T, got chan string) string {
	t.Helper()
	select {
	case p := <-got:
		return p
	case <-time.After(20 * time.Second):
		t.Fatal("the app got nothing in 20s")
		return ""
	}
}

// TestRoutes sends one event type to an app of its own with --route, the
// rest to --forward-to, and checks that the route taken is recorded and
// that a replay takes it again.
func TestRoutes(t *testing.T) {
	def, defGot := routeApp(t)
	pay, payGot := routeApp(t)
	_, relayURL := startRelay(t)
	db := filepath.Join(t.TempDir(), "r.db")
	agent := startProc(t, listenArgs(relayURL, "rt", def.URL+"/webhooks", db,
		"--route", "payable.*="+pay.URL+"/payables", "--route", "payable.paid="+def.URL+"/never")...)
	var ready struct{ Routes []string }
	json.Unmarshal([]byte(agent.line(t, `"type":"ready"`)), &ready)
	if len(ready.Routes) != 2 || ready.Routes[0] != "payable.*="+pay.URL+"/payables" {
		t.Fatalf("ready line routes = %q", ready.Routes)
	}
	ingress := relayURL + "/h/rt/x"
	type line struct{ ID, Action, Target string }
	send := func(action string) line {
		t.Helper()
		sendEvent(t, http.DefaultClient, ingress, "evt", action)
		var l line
		json.Unmarshal([]byte(agent.line(t, `"type":"delivery"`)), &l)
		return l
	}
	p := send("payable.paid") // the first route wins over the second
	if got := recv(t, payGot); got != "/payables/x" || p.Target != pay.URL+"/payables/x" {
		t.Fatalf("payable.paid went to %q (recorded target %q)", got, p.Target)
	}
	c := send("counterpart.created")
	if got := recv(t, defGot); got != "/webhooks/x" || c.Target != def.URL+"/webhooks/x" {
		t.Fatalf("counterpart.created went to %q (recorded target %q)", got, c.Target)
	}

	out, errOut, code := hooktapOut(t, nil, "events", "list", "--db", db, "--json", "--action", "payable.*")
	if code != 0 || !strings.Contains(out, `"target":"`+pay.URL+`/payables/x"`) {
		t.Fatalf("events list: exit %d %q %q", code, out, errOut)
	}
	// A replay goes where the delivery went.
	if _, errOut, code := hooktapOut(t, nil, "replay", p.ID, "--db", db); code != 0 {
		t.Fatalf("replay: exit %d %q", code, errOut)
	}
	if got := recv(t, payGot); got != "/payables/x" {
		t.Fatalf("replay went to %q", got)
	}
	select {
	case got := <-defGot:
		t.Fatalf("the default app got %q", got)
	default:
	}
}

func TestRouteUsageErrors(t *testing.T) {
	for _, route := range []string{"payable.*", "=http://localhost:1", "payable.[=http://localhost:1", "payable.*=ftp://x"} {
		_, stderr, code := hooktapOut(t, nil, "listen", "--relay", "http://127.0.0.1:1", "--channel", "c",
			"--forward-to", "http://localhost:1", "--route", route)
		if code != 2 || !strings.HasPrefix(stderr, "hooktap: bad --route "+strconv.Quote(route)+": ") || strings.Count(stderr, "\n") != 1 {
			t.Errorf("--route %q: exit %d, %q", route, code, stderr)
		}
	}
}
