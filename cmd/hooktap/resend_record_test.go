package main

import (
	"encoding/json"
	"errors"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hooktap/hooktap/inspector/store"
)

var errFail = errors.New("this app refuses everything")

// TestResendRecordsWhatWasSent runs the real binary: a resend whose --set
// makes the body longer records the Content-Length it sent, not the one
// the delivery came with, and the app got the same.
func TestResendRecordsWhatWasSent(t *testing.T) {
	app := newRecordingApp(t, moniteCheck(testSecret))
	db := filepath.Join(t.TempDir(), "hooktap.db")
	d := storedDelivery(t, db, "", time.Now(), time.Now())
	d.ID += "x" // stored again below, with the Content-Length a relay records
	d.Header.Set("Content-Length", strconv.Itoa(len(d.Body)))
	insertDelivery(t, db, d, app.URL+"/webhooks")

	_, errOut, code := hooktapOut(t, []string{"HOOKTAP_SECRET=" + testSecret},
		"resend", d.ID, "--db", db, "--set", "object.status=approved and paid in full")
	if code != 0 {
		t.Fatalf("resend: exit %d: %s", code, errOut)
	}
	got := app.requests()[len(app.requests())-1]
	out, errOut, code := hooktapOut(t, nil, "events", "show", d.ID, "--db", db, "--json")
	if code != 0 {
		t.Fatalf("events show: exit %d: %s", code, errOut)
	}
	var r store.Record
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatal(err)
	}
	last := r.History[len(r.History)-1]
	if last.Kind != store.KindResend || last.Request == nil || last.Request.Body == nil {
		t.Fatalf("last attempt: %+v", last)
	}
	sent := strconv.Itoa(len(*last.Request.Body))
	if cl := last.Request.Headers.Get("Content-Length"); cl != sent || sent != strconv.Itoa(len(got.Body)) {
		t.Errorf("recorded Content-Length %q; sent body %s bytes, app got %d (stored %d)", cl, sent, len(got.Body), len(d.Body))
	}
	if last.Request.Headers.Get("X-Forwarded-For") != got.Header.Get("X-Forwarded-For") || got.Header.Get("X-Forwarded-For") == "" {
		t.Errorf("recorded X-Forwarded-For %q, app got %q", last.Request.Headers.Get("X-Forwarded-For"), got.Header.Get("X-Forwarded-For"))
	}
	if last.Request.Headers.Get("Monite-Signature") != got.Header.Get("Monite-Signature") {
		t.Errorf("recorded signature %q, app got %q", last.Request.Headers.Get("Monite-Signature"), got.Header.Get("Monite-Signature"))
	}
}

// TestReplayElsewhereKeepsTheRow runs the real binary: a replay --to
// another app leaves the delivery's status and target those of its
// forward, and is shown apart as last_elsewhere / "last: replay → ...".
func TestReplayElsewhereKeepsTheRow(t *testing.T) {
	app := newRecordingApp(t, nil)
	other := newRecordingApp(t, func(http.Header, []byte) error { return errFail })
	db := filepath.Join(t.TempDir(), "hooktap.db")
	d := storedDelivery(t, db, app.URL+"/webhooks", time.Now(), time.Now())

	if _, errOut, code := hooktapOut(t, nil, "replay", d.ID, "--db", db, "--to", other.URL+"/hooks"); code != 0 {
		t.Fatalf("replay --to: exit %d: %s", code, errOut)
	}
	out, errOut, code := hooktapOut(t, nil, "events", "list", "--db", db, "--json")
	if code != 0 {
		t.Fatalf("events list: exit %d: %s", code, errOut)
	}
	type elsewhere struct {
		Kind, Target string
		Status       int
	}
	var row struct {
		Status    int
		Target    string
		Attempts  int
		Elsewhere *elsewhere `json:"last_elsewhere"`
	}
	if err := json.Unmarshal([]byte(out), &row); err != nil {
		t.Fatal(err)
	}
	home := app.URL + "/webhooks/billing?src=monite"
	if row.Status != 200 || row.Target != home || row.Attempts != 2 {
		t.Errorf("row after replay --to: status %d, target %s, attempts %d; want 200, %s, 2", row.Status, row.Target, row.Attempts, home)
	}
	want := elsewhere{Kind: "replay", Target: other.URL + "/hooks/billing?src=monite", Status: 400}
	if row.Elsewhere == nil || *row.Elsewhere != want {
		t.Errorf("last_elsewhere = %+v, want %+v", row.Elsewhere, want)
	}
	out, _, _ = hooktapOut(t, nil, "events", "show", d.ID, "--db", db)
	if !strings.Contains(out, "last        replay → "+want.Target+" 400") {
		t.Errorf("events show does not say where the last replay went:\n%s", out)
	}
	// A replay to the delivery's own target is its latest again.
	if _, errOut, code := hooktapOut(t, nil, "replay", d.ID, "--db", db); code != 0 {
		t.Fatalf("replay: exit %d: %s", code, errOut)
	}
	if got := loadDelivery(t, db, d.ID); got.Status != 200 || got.Target != home || got.Attempts != 3 {
		t.Errorf("row after replay: status %d, target %s, attempts %d", got.Status, got.Target, got.Attempts)
	}
}
