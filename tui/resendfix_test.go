package tui

import (
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestResendUnsignedNoSecret: R on a delivery that arrived unsigned sends
// it unsigned, with no secret.
func TestResendUnsignedNoSecret(t *testing.T) {
	s := openStore(t)
	srv, got := app(t)
	seed(t, s, 0, 3, srv.URL+"/webhooks") // the newest, dlv_000002, arrived unsigned
	m := newSized(t, testOptions(s))
	send(t, m, keyMsg("R"))
	if r := nextRequest(t, got); r.Header.Get("Monite-Signature") != "" {
		t.Errorf("an unsigned delivery was resent signed: %v", r.Header)
	}
	if !strings.Contains(m.View(), "resend: 202 in") {
		t.Fatalf("resend result not shown:\n%s", m.View())
	}
}

// TestEditSaysFirstWhenNoSecret: e on a signed delivery with no secret
// says so at once, and the editor does not open.
func TestEditSaysFirstWhenNoSecret(t *testing.T) {
	s := openStore(t)
	srv, _ := app(t)
	seed(t, s, 0, 1, srv.URL+"/webhooks") // dlv_000000 arrived signed
	opened := filepath.Join(t.TempDir(), "opened")
	tm := editing(t, s, "", "#!/bin/sh\ntouch "+opened+"\n", 300)
	tm.Send(keyMsg("e"))
	waitScreen(t, tm, "needs the signing secret", "the editor was not opened")
	quit(t, tm)
	if _, err := os.Stat(opened); err == nil {
		t.Error("the editor opened")
	}
}

// TestEditKeptWhenResendFails: an edit whose resend gets no answer is kept
// in a file beside the store, and the next e opens it again; once sent, the
// file goes.
func TestEditKeptWhenResendFails(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // the app is down at first
	s := openStore(t)
	seed(t, s, 0, 1, "http://"+addr+"/webhooks")
	dir := t.TempDir()
	seen := filepath.Join(dir, "seen")
	// The first edit writes a body; later ones keep what they are shown.
	script := "#!/bin/sh\ncp \"$1\" " + seen + "\n[ -e " + dir + "/once ] && exit 0\ntouch " + dir + "/once\nprintf '{\"edited\":true}' > \"$1\"\n"
	tm := editing(t, s, "whsec_test", script, 400)
	tm.Send(keyMsg("e"))
	kept := filepath.Join(filepath.Dir(s.Path()), "edits", "dlv_000000.json")
	waitScreen(t, tm, "edit kept in "+kept)
	if b, err := os.ReadFile(kept); err != nil || string(b) != `{"edited":true}` {
		t.Fatalf("kept edit: %q %v", b, err)
	}

	// The app is up now: e opens the kept edit, and saving it sends it.
	ln, err = net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan string, 1)
	srv := &httptest.Server{Listener: ln, Config: &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got <- string(b)
	})}}
	srv.Start()
	defer srv.Close()
	tm.Send(keyMsg("e"))
	select {
	case body := <-got:
		if body != `{"edited":true}` {
			t.Errorf("sent %s, want the kept edit", body)
		}
	case <-time.After(patience):
		t.Fatal("the kept edit was not sent")
	}
	waitScreen(t, tm, "resend (edited): 200 in")
	quit(t, tm)
	if _, err := os.Stat(kept); err == nil {
		t.Error("the kept edit is still there after it was sent")
	}
}
