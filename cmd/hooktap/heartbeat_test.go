package main

import (
	"encoding/json"
	"net/http"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// apiConn is the relay connection as /api/status shows it.
type apiConn struct {
	State          string  `json:"state"`
	Stalled        bool    `json:"stalled"`
	RTTMS          float64 `json:"rtt_ms"`
	HeartbeatAgeMS *int64  `json:"heartbeat_age_ms"`
	Reason         string  `json:"reason"`
}

func apiStatusConn(t *testing.T, web string) apiConn {
	t.Helper()
	resp, err := http.Get(web + "/api/status")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var st struct{ Conn apiConn }
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		t.Fatal(err)
	}
	return st.Conn
}

// TestFrozenRelayIsNoticed freezes the relay (SIGSTOP): the agent notices
// within two heartbeat intervals instead of the minute a read deadline
// takes, says so in its connection lines, /api/status and hooktap status
// (exit 1), keeps trying, and is back once the relay thaws.
func TestFrozenRelayIsNoticed(t *testing.T) {
	const every = 400 * time.Millisecond
	relayProc, relayURL := startRelay(t)
	t.Cleanup(func() { relayProc.cmd.Process.Signal(syscall.SIGCONT) })
	app := freeAddr(t)
	appOn(t, app)
	agent := startProc(t, listenCmd(relayURL, "hb", "http://"+app, filepath.Join(t.TempDir(), "hb.db"),
		"--json", "--web", "127.0.0.1:0", "--heartbeat", every.String())...)
	if ready := agent.line(t, `"type":"ready"`); !strings.Contains(ready, `"app_listening":true`) {
		t.Errorf("ready line %s does not say the app listens", ready)
	}
	web := stderrLine(t, agent, webLine)
	webAddr := strings.TrimPrefix(web, "http://")

	// Heartbeats come: a round trip and a recent heartbeat.
	deadline := time.Now().Add(20 * time.Second)
	for c := apiStatusConn(t, web); c.RTTMS <= 0 || c.HeartbeatAgeMS == nil; c = apiStatusConn(t, web) {
		if time.Now().After(deadline) {
			t.Fatalf("no heartbeat in /api/status: %+v", c)
		}
		time.Sleep(50 * time.Millisecond) // another process's state: polled, with a deadline
	}
	if out, errOut, code := hooktapOut(t, nil, "status", "--web", webAddr); code != 0 || !strings.Contains(out, "relay    connected") || !strings.Contains(out, "rtt ") {
		t.Fatalf("status while connected: exit %d\n%s%s", code, out, errOut)
	}

	relayProc.cmd.Process.Signal(syscall.SIGSTOP)
	frozen := time.Now()
	line := agent.line(t, `"state":"reconnecting"`)
	took := time.Since(frozen)
	if !strings.Contains(line, "the relay stopped answering") {
		t.Errorf("reconnecting line %s does not say the relay stopped answering", line)
	}
	// Two intervals, and room for a loaded machine; a read deadline alone
	// would take a minute.
	t.Logf("the frozen relay was noticed after %s (heartbeat every %s)", took, every)
	if took > 2*every+3*time.Second {
		t.Errorf("the frozen relay was noticed after %s (heartbeat every %s)", took, every)
	}
	if c := apiStatusConn(t, web); c.State != "reconnecting" || !c.Stalled {
		t.Errorf("/api/status while frozen: %+v", c)
	}
	out, errOut, code := hooktapOut(t, nil, "status", "--web", webAddr)
	if code != 1 || !strings.Contains(out, "not answering") || strings.Count(strings.TrimSpace(errOut), "\n") != 0 {
		t.Errorf("status while frozen: exit %d\n%s%s", code, out, errOut)
	}

	relayProc.cmd.Process.Signal(syscall.SIGCONT)
	// Connected again, and no longer red: read from /api/status (the
	// connection lines before the stall may still be unread).
	deadline = time.Now().Add(20 * time.Second)
	for c := apiStatusConn(t, web); c.State != "connected" || c.Stalled; c = apiStatusConn(t, web) {
		if time.Now().After(deadline) {
			t.Fatalf("/api/status 20s after the thaw: %+v", c)
		}
		time.Sleep(50 * time.Millisecond) // another process's state: polled, with a deadline
	}
}

func TestStatusWithoutAgent(t *testing.T) {
	_, errOut, code := hooktapOut(t, nil, "status", "--web", freeAddr(t))
	if code != 1 || !strings.Contains(errOut, "no hooktap agent answers on") {
		t.Errorf("status with nothing running: exit %d %q", code, errOut)
	}
}

// TestStatusJSONWithoutAgent: a script asking for JSON gets an object even
// when nothing answers, with the exit status and stderr's line as before.
func TestStatusJSONWithoutAgent(t *testing.T) {
	addr := freeAddr(t)
	out, errOut, code := hooktapOut(t, nil, "status", "--web", addr, "--json")
	var got struct {
		Running *bool  `json:"running"`
		Web     string `json:"web"`
		Error   string `json:"error"`
	}
	if err := json.Unmarshal([]byte(out), &got); err != nil || got.Running == nil || *got.Running || got.Web != addr ||
		!strings.Contains(got.Error, "no hooktap agent answers") {
		t.Errorf("status --json with nothing running: stdout %q (%v)", out, err)
	}
	if code != 1 || !strings.Contains(errOut, "no hooktap agent answers on") {
		t.Errorf("status --json with nothing running: exit %d, stderr %q", code, errOut)
	}
}

func TestStatusOneDelivery(t *testing.T) {
	var b strings.Builder
	printStatus(&b, &runningStatus{DB: "x.db", Deliveries: 1})
	if !strings.Contains(b.String(), "x.db, 1 delivery\n") {
		t.Errorf("status of a store with one delivery: %q", b.String())
	}
}
