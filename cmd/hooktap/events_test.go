package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/hooktap/hooktap/inspector/signing"
	"github.com/hooktap/hooktap/inspector/store"
)

// evRun runs hooktap in-process and returns stdout, stderr and the error.
func evRun(t *testing.T, stdin string, args ...string) (string, string, error) {
	t.Helper()
	var out, errOut bytes.Buffer
	err := run(t.Context(), args, strings.NewReader(stdin), &out, &errOut)
	return out.String(), errOut.String(), err
}

// evStore makes a store with a few deliveries and returns its path.
func evStore(t *testing.T) string {
	t.Helper()
	db := filepath.Join(t.TempDir(), "events.db")
	s, err := store.Open(t.Context(), db)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	now := time.Now().UTC()
	add := func(id, action, entity string, age time.Duration, body []byte, status int) {
		objectType, _, _ := strings.Cut(action, ".")
		d := &store.Delivery{ID: id, Channel: "dev", ReceivedAt: now.Add(-age), Method: "POST", Path: "/billing", Query: "x=1",
			Proto: "https", Host: "hooks.example", RemoteAddr: "203.0.113.9:4711",
			Header: http.Header{"Content-Type": {"application/json"}, "X-Trace": {"trace-" + id}}, Body: body,
			ObjectType: objectType, Action: action, EntityID: entity, ObjectID: "obj-" + id,
			Scheme: "monite", Signature: signing.Invalid, SignatureReason: "timestamp too old"}
		if err := store.Wait(t.Context(), s.Insert(d)); err != nil {
			t.Fatal(err)
		}
		if status < 0 {
			return
		}
		a := &store.Attempt{DeliveryID: id, Kind: store.KindForward, Target: "http://127.0.0.1:3000/webhooks/billing?x=1",
			StartedAt: d.ReceivedAt, Duration: 4200 * time.Microsecond, Status: status,
			Header: http.Header{"Content-Type": {"application/json"}}, Body: []byte(`{"received":true}`)}
		if status == 0 {
			a.Error, a.Body = "dial tcp 127.0.0.1:3000: connection refused", nil
		}
		if err := store.Wait(t.Context(), s.AddAttempt(a)); err != nil {
			t.Fatal(err)
		}
	}
	add("aaaa1111", "payable.created", "ent-1", 48*time.Hour, []byte(`{"action":"payable.created","object":{"amount":1200,"memo":"office chairs"}}`), 200)
	add("aaaa2222", "payable.approved", "ent-1", 3*time.Hour, []byte(`{"action":"payable.approved","object":{"memo":"quarterly rent"}}`), 500)
	add("bbbb1111", "receivable.created", "ent-2", 30*time.Minute, []byte(`{"action":"receivable.created"}`), 404)
	add("bbbb2222", "counterpart.created", "ent-2", 10*time.Minute, []byte{0x00, 0xff, 0xfe, 0x10}, 0)
	add("cccc1111", "payable.paid", "ent-3", time.Minute, []byte(`{"action":"payable.paid"}`), -1)
	return db
}

func jsonIDs(t *testing.T, out string) []string {
	t.Helper()
	var ids []string
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		if l == "" {
			continue
		}
		var d struct {
			ID        string `json:"id"`
			Signature string `json:"signature"`
		}
		if err := json.Unmarshal([]byte(l), &d); err != nil {
			t.Fatalf("not a JSON line: %q", l)
		}
		ids = append(ids, d.ID)
	}
	return ids
}

func TestEventsListFilters(t *testing.T) {
	db := evStore(t)
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"all", nil, "cccc1111 bbbb2222 bbbb1111 aaaa2222 aaaa1111"},
		{"limit", []string{"--limit", "2"}, "cccc1111 bbbb2222"},
		{"object type", []string{"--object-type", "payable"}, "cccc1111 aaaa2222 aaaa1111"},
		{"action glob", []string{"--action", "payable.*"}, "cccc1111 aaaa2222 aaaa1111"},
		{"entity", []string{"--entity-id", "ent-2"}, "bbbb2222 bbbb1111"},
		{"status class", []string{"--status", "5xx"}, "aaaa2222"},
		{"status code", []string{"--status", "404"}, "bbbb1111"},
		{"status error", []string{"--status", "error"}, "bbbb2222"},
		{"since", []string{"--since", "1h"}, "cccc1111 bbbb2222 bbbb1111"},
		{"search", []string{"--search", "quarterly"}, "aaaa2222"},
		{"search header", []string{"--search", "trace-aaaa1111"}, "aaaa1111"},
		{"filter words", []string{"type:payable", "status:2xx"}, "aaaa1111"},
		{"flags beat words", []string{"type:receivable", "--object-type", "payable", "--status", "5xx"}, "aaaa2222"},
		{"free words search", []string{"office", "chairs"}, "aaaa1111"},
		{"nothing", []string{"--search", "absent"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, _, err := evRun(t, "", append([]string{"events", "list", "--db", db, "--json"}, tt.args...)...)
			if err != nil {
				t.Fatal(err)
			}
			if got := strings.Join(jsonIDs(t, out), " "); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestEventsListJSONFields(t *testing.T) {
	db := evStore(t)
	out, _, err := evRun(t, "", "events", "list", "--db", db, "--json", "--status", "5xx")
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(out), &m); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"id", "received_at", "method", "path", "object_type", "action", "entity_id", "object_id", "status", "duration_ms", "attempts", "signature"} {
		if _, ok := m[k]; !ok {
			t.Errorf("no %q in %s", k, out)
		}
	}
	if m["status"] != 500.0 || m["signature"] != "invalid" || m["duration_ms"] != 4.2 || m["attempts"] != 1.0 {
		t.Errorf("fields: %v", m)
	}
}

// TestEventsListMistypedKey: a filter term that looks like a mistyped key
// is searched as text; when nothing matches, the line says what was meant.
func TestEventsListMistypedKey(t *testing.T) {
	db := evStore(t)
	out, errOut, err := evRun(t, "", "events", "list", "--db", db, "stauts:5xx")
	if err != nil || out != "" || !strings.Contains(errOut, "no deliveries match: \"stauts:5xx\" is searched as text: did you mean status:5xx?") {
		t.Errorf("err %v, stdout %q, stderr %q", err, out, errOut)
	}
}

func TestEventsListTable(t *testing.T) {
	db := evStore(t)
	for _, width := range []int{60, 80, 200} {
		t.Run(fmt.Sprint(width), func(t *testing.T) {
			t.Setenv("COLUMNS", fmt.Sprint(width))
			out, _, err := evRun(t, "", "events", "list", "--db", db)
			if err != nil {
				t.Fatal(err)
			}
			lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
			if len(lines) != 6 || !strings.HasPrefix(lines[0], "ID") {
				t.Fatalf("table:\n%s", out)
			}
			if width == 200 && (!strings.Contains(lines[0], "DURATION") || !strings.Contains(out, "4.2ms")) {
				t.Errorf("the duration column, as the TUI heads and writes it:\n%s", out)
			}
			for _, l := range lines {
				if n := utf8.RuneCountInString(l); n > width {
					t.Errorf("line of %d runes at width %d: %q", n, width, l)
				}
			}
			// Columns line up: STATUS starts at the same place on every line.
			col := strings.Index(lines[0], "STATUS")
			for _, l := range lines[1:] {
				if r := []rune(l); len(r) <= col || r[col-1] != ' ' || r[col] == ' ' {
					t.Errorf("STATUS column misaligned in %q", l)
				}
			}
			if width == 200 && !strings.Contains(out, "receivable.created") {
				t.Errorf("wide table lost text:\n%s", out)
			}
			if !strings.Contains(lines[1], "cccc1111") || !strings.Contains(lines[1], "pending") {
				t.Errorf("first row %q", lines[1])
			}
		})
	}
}

func TestEventsShow(t *testing.T) {
	db := evStore(t)
	out, _, err := evRun(t, "", "events", "show", "--db", db, "aaaa2")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"POST /billing?x=1\n", // no HTTP version: the relay does not record the sender's
		"203.0.113.9:4711 via https://hooks.example\n",
		"aaaa2222",
		"payable.approved",
		"invalid (monite): timestamp too old",
		"X-Trace: trace-aaaa2222",
		"  {\n    \"action\": \"payable.approved\",", // pretty-printed
		"#1 forward",
		"http://127.0.0.1:3000/webhooks/billing?x=1",
		"500 Internal Server Error in 4.2ms",
		`"received": true`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("show lacks %q:\n%s", want, out)
		}
	}
	// A binary body is a hex dump, a failed attempt shows its error.
	out, _, err = evRun(t, "", "events", "show", "--db", db, "bbbb2222")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "00 ff fe 10") || !strings.Contains(out, "connection refused") {
		t.Errorf("binary show:\n%s", out)
	}

	out, _, err = evRun(t, "", "events", "show", "--db", db, "--json", "bbbb2")
	if err != nil {
		t.Fatal(err)
	}
	var v store.Record // the one shape (store's TestRecordShape pins it)
	if err := json.Unmarshal([]byte(out), &v); err != nil {
		t.Fatal(err)
	}
	if v.ID != "bbbb2222" || v.Body == nil || *v.Body != "AP/+EA==" || v.BodyEncoding != "base64" || v.Headers.Get("X-Trace") != "trace-bbbb2222" ||
		len(v.History) != 1 || !strings.Contains(v.History[0].Error, "refused") || v.Attempts != 1 || v.Signature == "" {
		t.Errorf("show --json: %+v", v)
	}
}

func TestEventsExportImport(t *testing.T) {
	db := evStore(t)
	export, _, err := evRun(t, "", "events", "export", "--db", db)
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(export, "\n"); n != 5 {
		t.Fatalf("%d lines exported", n)
	}
	file := filepath.Join(t.TempDir(), "export.jsonl")
	os.WriteFile(file, []byte(export), 0o600)
	copyDB := filepath.Join(t.TempDir(), "copy.db")
	out, _, err := evRun(t, "", "events", "import", "--db", copyDB, file)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "imported 5 deliveries and 4 attempts") {
		t.Errorf("first import: %q", out)
	}
	out, _, err = evRun(t, export, "events", "import", "--db", copyDB, "-")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "imported 0 deliveries and 0 attempts") || !strings.Contains(out, "(5 already there)") {
		t.Errorf("second import: %q", out)
	}
	again, _, err := evRun(t, "", "events", "export", "--db", copyDB)
	if err != nil || again != export {
		t.Errorf("export of the copy differs (%v)", err)
	}

	// Filters apply to exports too.
	some, _, err := evRun(t, "", "events", "export", "--db", db, "--object-type", "payable", "--status", "2xx")
	if err != nil || strings.Count(some, "\n") != 1 || !strings.Contains(some, `"id":"aaaa1111"`) {
		t.Errorf("filtered export: %q %v", some, err)
	}

	har, _, err := evRun(t, "", "events", "export", "--db", db, "--format", "har")
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Log struct {
			Version string `json:"version"`
			Entries []struct {
				Request struct {
					URL string `json:"url"`
				} `json:"request"`
			} `json:"entries"`
		} `json:"log"`
	}
	if err := json.Unmarshal([]byte(har), &doc); err != nil || doc.Log.Version != "1.2" || len(doc.Log.Entries) != 5 {
		t.Errorf("har: %v %+v", err, doc)
	}
}

func TestEventsImportBadFileWritesNothing(t *testing.T) {
	db := evStore(t)
	export, _, _ := evRun(t, "", "events", "export", "--db", db)
	bad := export + "{not json\n"
	copyDB := filepath.Join(t.TempDir(), "copy.db")
	_, _, err := evRun(t, bad, "events", "import", "--db", copyDB, "-")
	if err == nil || !strings.Contains(err.Error(), "line 6") || !strings.Contains(err.Error(), "nothing imported") {
		t.Fatalf("err = %v", err)
	}
	if _, err := os.Stat(copyDB); !os.IsNotExist(err) {
		t.Errorf("a bad import created the store")
	}
}

func TestEventsPrune(t *testing.T) {
	db := evStore(t)
	out, _, err := evRun(t, "", "events", "prune", "--db", db, "--keep", "1d")
	if err != nil || out != "pruned 1 deliveries, 4 left\n" {
		t.Fatalf("prune --keep: %q %v", out, err)
	}
	out, _, err = evRun(t, "", "events", "prune", "--db", db, "--max-deliveries", "2")
	if err != nil || out != "pruned 2 deliveries, 2 left\n" {
		t.Fatalf("prune --max-deliveries: %q %v", out, err)
	}
	list, _, _ := evRun(t, "", "events", "list", "--db", db, "--json")
	if got := strings.Join(jsonIDs(t, list), " "); got != "cccc1111 bbbb2222" {
		t.Errorf("kept %q", got)
	}
}

// --keep and --since read ages the same way (store.ParseAge).
func TestAgesAreOneLanguage(t *testing.T) {
	db := evStore(t)
	for _, args := range [][]string{{"events", "list", "--since", "2w"}, {"events", "list", "--since", "3d"}, {"events", "prune", "--keep", "2w"}} {
		if _, stderr, err := evRun(t, "", append(args, "--db", db)...); err != nil {
			t.Errorf("%v: %v %s", args, err, stderr)
		}
	}
	for _, args := range [][]string{{"events", "list", "--since", "2y"}, {"events", "prune", "--keep", "0d"}} {
		if _, stderr, err := evRun(t, "", append(args, "--db", db)...); err == nil || !strings.Contains(err.Error(), "2w") {
			t.Errorf("%v: %v, stderr %q", args, err, stderr)
		}
	}
}

func TestEventsErrors(t *testing.T) {
	db := evStore(t)
	missing := filepath.Join(t.TempDir(), "missing.db")
	corrupt := filepath.Join(t.TempDir(), "corrupt.db")
	os.WriteFile(corrupt, bytes.Repeat([]byte("garbage!"), 1024), 0o600)
	corruptBefore, _ := os.ReadFile(corrupt)
	tests := []struct {
		name  string
		args  []string
		usage bool   // exit 2
		msg   string // in the one line
	}{
		{"no subcommand", []string{"events"}, true, "needs a subcommand"},
		{"unknown subcommand", []string{"events", "frob"}, true, "unknown events subcommand"},
		{"missing db", []string{"events", "list", "--db", missing}, false, "no database at " + missing},
		{"missing db show", []string{"events", "show", "--db", missing, "abc"}, false, "no database"},
		{"missing db prune", []string{"events", "prune", "--db", missing, "--keep", "1d"}, false, "no database"},
		{"corrupt db", []string{"events", "list", "--db", corrupt}, false, "not a hooktap database or is corrupt"},
		{"unknown id", []string{"events", "show", "--db", db, "zzzz"}, false, "no such delivery: zzzz"},
		{"ambiguous id", []string{"events", "show", "--db", db, "aaaa"}, false, "ambiguous delivery id"},
		{"show without id", []string{"events", "show", "--db", db}, true, "needs one delivery id"},
		{"bad status", []string{"events", "list", "--db", db, "--status", "7xx"}, true, `bad --status "7xx": use 2xx`},
		{"bad since", []string{"events", "list", "--db", db, "--since", "yesterday"}, true, `bad --since "yesterday": use an age`},
		{"bad filter word", []string{"events", "list", "--db", db, "status:nope"}, true, "bad status"},
		{"bad glob", []string{"events", "list", "--db", db, "--action", "payable.[a"}, true, "unbalanced"},
		{"bad limit", []string{"events", "list", "--db", db, "--limit", "0"}, true, "--limit"},
		{"bad format", []string{"events", "export", "--db", db, "--format", "xml"}, true, "bad --format"},
		{"bad keep", []string{"events", "prune", "--db", db, "--keep", "forever"}, true, "bad --keep"},
		{"prune needs a rule", []string{"events", "prune", "--db", db}, true, "needs --keep"},
		{"import no file", []string{"events", "import", "--db", db}, true, "needs one file"},
		{"import missing file", []string{"events", "import", "--db", db, missing + ".jsonl"}, false, "no such file"},
		{"unknown flag", []string{"events", "list", "--db", db, "--bogus"}, true, "unknown flag --bogus (see hooktap events list -h)"},
		{"bad --set", []string{"resend", "--db", db, "--set", "bad", "aaaa"}, true, `bad --set "bad": write path=value`},
		{"listen bad keep", []string{"listen", "--relay", "http://127.0.0.1:1", "--channel", "x", "--forward-to", "http://127.0.0.1:2", "--db", missing, "--keep", "3x"}, true, "bad --keep"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, errOut, err := evRun(t, "", tt.args...)
			if err == nil {
				t.Fatalf("no error; stdout %q", out)
			}
			// main prints err as the one line; nothing else before it
			// (the flag package would add the whole usage).
			if errOut != "" {
				t.Errorf("stderr %q besides the error", errOut)
			}
			var ue usageError
			if isUsage := errors.As(err, &ue); isUsage != tt.usage {
				t.Errorf("usage error = %v, want %v (%v)", isUsage, tt.usage, err)
			}
			if msg := err.Error(); !strings.Contains(msg, tt.msg) || strings.Contains(msg, "\n") {
				t.Errorf("error %q, want one line with %q", msg, tt.msg)
			}
			if out != "" {
				t.Errorf("stdout %q on error", out)
			}
		})
	}
	if _, err := os.Stat(missing); !os.IsNotExist(err) {
		t.Errorf("an error created %s", missing)
	}
	if after, _ := os.ReadFile(corrupt); !bytes.Equal(after, corruptBefore) {
		t.Errorf("the corrupt file was written to")
	}
}

// -h prints a command's usage on stdout (and is no error), while a bad
// flag is one line.
func TestFlagHelp(t *testing.T) {
	for _, args := range [][]string{{"events", "list", "-h"}, {"replay", "--help"}} {
		out, errOut, err := evRun(t, "", args...)
		if err != nil || !strings.HasPrefix(out, "Usage: hooktap "+args[0]) || !strings.Contains(out, "--db") || errOut != "" {
			t.Errorf("%v: err %v, stderr %q", args, err, errOut)
		}
	}
}

// TestShowBoundsBodiesOnATerminal: on a terminal, events show prints at
// most termBodyLimit of a body (a 5 MiB one scrolled everything else away)
// and says what it left out; into a pipe it prints all of it.
func TestShowBoundsBodiesOnATerminal(t *testing.T) {
	big := map[string][]byte{
		"json": []byte(`{"pad":"` + strings.Repeat("x", 5<<20) + `","items":[` + strings.Repeat(`1,`, 1000) + `1]}`),
		"text": []byte(strings.Repeat("é", 3<<20)), // one line, two bytes a rune
		"bin":  bytes.Repeat([]byte{0xff, 0x00}, 1<<20),
	}
	for name, body := range big {
		t.Run(name, func(t *testing.T) {
			d := &store.Delivery{ID: "dlv_1", Method: "POST", Path: "/h", Body: body}
			var term, pipe bytes.Buffer
			writeDelivery(&term, d, termBodyLimit)
			writeDelivery(&pipe, d, 0)
			if term.Len() > termBodyLimit+4096 || !strings.Contains(term.String(), "more bytes not shown on a terminal") || !utf8.Valid(term.Bytes()) {
				t.Errorf("on a terminal: %d bytes printed, valid UTF-8 %v, tail %q", term.Len(), utf8.Valid(term.Bytes()), tail(term.String()))
			}
			if pipe.Len() < len(body) || strings.Contains(pipe.String(), "not shown") {
				t.Errorf("into a pipe: %d bytes printed for a %d-byte body", pipe.Len(), len(body))
			}
		})
	}
}

func tail(s string) string { return s[max(0, len(s)-200):] }
