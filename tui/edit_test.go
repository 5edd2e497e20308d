package tui

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/charmbracelet/x/exp/teatest"
	"github.com/hooktap/hooktap/inspector/store"
)

// TestEditAndResend runs the real program: e opens the body in $EDITOR (a
// script here), and what it saves is resent, re-signed, to the app.
func TestEditAndResend(t *testing.T) {
	s := openStore(t)
	srv, got := app(t)
	seed(t, s, 0, 1, srv.URL+"/webhooks")
	script := "#!/bin/sh\ngrep -q '^  \"object_type\": \"payable\",$' \"$1\" || exit 3\nprintf '{\"edited\":true}' > \"$1\"\n"
	tm := editing(t, s, "whsec_test", script, 100)
	tm.Send(keyMsg("e"))
	r := nextRequest(t, got)
	body, _ := io.ReadAll(r.Body)
	if string(body) != `{"edited":true}` || !strings.HasPrefix(r.Header.Get("Monite-Signature"), "t=") {
		t.Fatalf("app got %s with signature %q", body, r.Header.Get("Monite-Signature"))
	}
	waitScreen(t, tm, "resend (edited): 202 in")
	quit(t, tm)
	d, err := s.Get(context.Background(), "dlv_000000")
	if err != nil {
		t.Fatal(err)
	}
	if n := len(d.History); n != 2 || d.History[1].Kind != "resend" || string(d.History[1].RequestBody) != `{"edited":true}` {
		t.Fatalf("attempts: %d, last %+v", n, d.History[n-1])
	}
}

// TestEditSendsAsResendEdit: an edit made in the pretty-printed body goes
// out compacted, as `resend --edit` sends it, since the stored body was
// compact (one implementation: jsonedit.Draft).
func TestEditSendsAsResendEdit(t *testing.T) {
	s := openStore(t)
	srv, got := app(t)
	seed(t, s, 0, 1, srv.URL+"/webhooks")
	tm := editing(t, s, "whsec_test", "#!/bin/sh\nsed -i 's/\"paid\": false/\"paid\": true/' \"$1\"\n", 100)
	tm.Send(keyMsg("e"))
	body, _ := io.ReadAll(nextRequest(t, got).Body)
	want := strings.Replace(string(delivery(0).Body), `"paid":false`, `"paid":true`, 1)
	if string(body) != want {
		t.Errorf("sent\n%s\nwant (compacted, as resend --edit sends it)\n%s", body, want)
	}
	waitScreen(t, tm, "resend (edited): 202 in")
	quit(t, tm)
}

// A JSON body saved as something that is no longer JSON goes out as saved,
// and the status line says so, as `resend --edit` warns on stderr.
func TestEditNotJSONWarns(t *testing.T) {
	s := openStore(t)
	srv, got := app(t)
	seed(t, s, 0, 1, srv.URL+"/webhooks")
	tm := editing(t, s, "whsec_test", "#!/bin/sh\nprintf '{\"edited\":' > \"$1\"\n", 120)
	tm.Send(keyMsg("e"))
	r := nextRequest(t, got)
	if body, _ := io.ReadAll(r.Body); string(body) != `{"edited":` {
		t.Fatalf("app got %s", body)
	}
	waitScreen(t, tm, "resend (edited, not valid JSON): 202 in")
	quit(t, tm)
}

// TestEditUnchangedCancels: an editor left without a change (vi's :q!)
// cancels the edit, says so, and sends nothing; R resends as stored.
func TestEditUnchangedCancels(t *testing.T) {
	s := openStore(t)
	srv, got := app(t)
	seed(t, s, 0, 1, srv.URL+"/webhooks")
	tm := editing(t, s, "whsec_test", "#!/bin/sh\ntrue\n", 120)
	tm.Send(keyMsg("e"))
	waitScreen(t, tm, "edit cancelled: the body was not changed (R resends it as stored)")
	quit(t, tm)
	select {
	case r := <-got:
		t.Fatalf("a cancelled edit sent %s %s", r.Method, r.URL)
	default:
	}
}

// editing runs the real program on s, with script as $EDITOR and secret as
// the signing secret, in a width-wide terminal, once the newest delivery's
// row is selected (e acts on the selected row: wait for the row, not for
// the count, which can come before the page).
func editing(t *testing.T, s *store.Store, secret, script string, width int) *teatest.TestModel {
	t.Helper()
	editor := filepath.Join(t.TempDir(), "editor.sh")
	if err := os.WriteFile(editor, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	opts := testOptions(s)
	opts.Secret, opts.Editor = secret, editor
	m := newModel(context.Background(), opts)
	t.Cleanup(m.Close)
	tm := teatest.NewTestModel(t, m, teatest.WithInitialTermSize(width, 30))
	waitScreen(t, tm, "▸ 09:30:00")
	return tm
}

// quit ends the program and waits until it has.
func quit(t *testing.T, tm *teatest.TestModel) {
	t.Helper()
	if err := tm.Quit(); err != nil {
		t.Fatal(err)
	}
	tm.WaitFinished(t, teatest.WithFinalTimeout(patience))
}
