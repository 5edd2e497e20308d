package jsonedit

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var setTests = []struct {
	name      string
	doc, path string
	value     string
	want      string
	wantErr   error // nil: success
}{
	{"replace keeps key order", `{"b":1,"a":{"status":"new","x":2},"c":3}`, "a.status", "paid",
		`{"b":1,"a":{"status":"paid","x":2},"c":3}`, nil},
	{"number", `{"a":1}`, "a", "42", `{"a":42}`, nil},
	{"bool", `{"a":1}`, "a", "true", `{"a":true}`, nil},
	{"null", `{"a":1}`, "a", "null", `{"a":null}`, nil},
	{"object value", `{"a":1}`, "a", `{"z":1, "y":2}`, `{"a":{"z":1,"y":2}}`, nil},
	{"quoted string stays a string", `{"a":1}`, "a", `"42"`, `{"a":"42"}`, nil},
	{"bare word becomes a string", `{"a":1}`, "a", `hello world`, `{"a":"hello world"}`, nil},
	{"empty value is an empty string", `{"a":1}`, "a", ``, `{"a":""}`, nil},
	{"html kept as is", `{"a":"<b>"}`, "b", `x&y<z>`, `{"a":"<b>","b":"x&y<z>"}`, nil},
	{"new key appended", `{"a":1}`, "b", "2", `{"a":1,"b":2}`, nil},
	{"missing objects created", `{"a":1}`, "object.metadata.tier", "gold",
		`{"a":1,"object":{"metadata":{"tier":"gold"}}}`, nil},
	{"array index", `{"items":[{"amount":1},{"amount":2}]}`, "items.1.amount", "5",
		`{"items":[{"amount":1},{"amount":5}]}`, nil},
	{"array element replaced", `{"items":[1,2,3]}`, "items.0", `"x"`, `{"items":["x",2,3]}`, nil},
	{"numeric key in an object", `{"a":{"0":1}}`, "a.0", "2", `{"a":{"0":2}}`, nil},
	{"escaped dot", `{"a.b":1,"a":{"b":2}}`, `a\.b`, "3", `{"a.b":3,"a":{"b":2}}`, nil},
	{"escaped backslash", `{}`, `a\\b`, "1", `{"a\\b":1}`, nil},
	{"indented input comes out compact", "{\n  \"a\": [ 1, 2 ],\n  \"b\": \"x y\"\n}\n", "b", "z",
		`{"a":[1,2],"b":"z"}`, nil},
	{"escapes in untouched strings kept", `{"a":"\u00e9\n","b":1}`, "b", "2", `{"a":"\u00e9\n","b":2}`, nil},
	{"duplicate key: the last one wins", `{"a":1,"a":2}`, "a", "3", `{"a":1,"a":3}`, nil},
	{"array root", `[{"a":1}]`, "0.a", "2", `[{"a":2}]`, nil},

	{"not json", `{"a":`, "a", "1", "", ErrNotJSON},
	{"empty document", ``, "a", "1", "", ErrNotJSON},
	{"index out of range", `{"items":[1]}`, "items.1", "2", "", ErrOutOfRange},
	{"through a string", `{"a":"x"}`, "a.b", "1", "", ErrNotObject},
	{"through a number", `{"a":1}`, "a.b.c", "1", "", ErrNotObject},
	{"through null", `{"a":null}`, "a.b", "1", "", ErrNotObject},
	{"array with a key", `{"a":[1]}`, "a.b", "1", "", ErrNotObject},
	{"negative index", `{"a":[1]}`, "a.-1", "1", "", ErrNotObject},
	{"scalar root", `"x"`, "a", "1", "", ErrNotObject},
	{"empty path", `{}`, "", "1", "", ErrBadPath},
	{"empty segment", `{}`, "a..b", "1", "", ErrBadPath},
	{"trailing dot", `{}`, "a.", "1", "", ErrBadPath},
	{"lone backslash", `{}`, `a\`, "1", "", ErrBadPath},
}

func TestSet(t *testing.T) {
	for _, tt := range setTests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Set([]byte(tt.doc), tt.path, tt.value)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("Set = %s, %v; want error %v", got, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tt.want {
				t.Fatalf("Set =\n %s\nwant\n %s", got, tt.want)
			}
		})
	}
}

func TestParseAssignment(t *testing.T) {
	tests := []struct {
		in, path, value string
		ok              bool
	}{
		{"object.status=paid", "object.status", "paid", true},
		{"a=b=c", "a", "b=c", true},
		{`a\=b=c`, `a\=b`, "c", true},
		{`a\.b=`, `a\.b`, "", true},
		{`a={"x":1}`, "a", `{"x":1}`, true},
		{"=x", "", "", false},
		{"no-equals", "", "", false},
		{"", "", "", false},
	}
	for _, tt := range tests {
		path, value, err := ParseAssignment(tt.in)
		if (err == nil) != tt.ok || path != tt.path || value != tt.value {
			t.Errorf("ParseAssignment(%q) = %q, %q, %v", tt.in, path, value, err)
		}
	}
	// An escaped '=' in the path reaches Set as a literal '='.
	path, value, _ := ParseAssignment(`a\=b=1`)
	got, err := Set([]byte(`{}`), path, value)
	if err != nil || string(got) != `{"a=b":1}` {
		t.Errorf("Set via ParseAssignment = %s, %v", got, err)
	}
}

// get reads the value at segs, for the fuzz target's check.
func get(doc []byte, segs []string) (json.RawMessage, bool) {
	for _, s := range segs {
		switch doc[0] {
		case '{':
			members, err := decodeObject(doc)
			if err != nil {
				return nil, false
			}
			found := false
			for _, m := range members {
				if m.key == s {
					doc, found = m.value, true
				}
			}
			if !found {
				return nil, false
			}
		case '[':
			var elems []json.RawMessage
			if json.Unmarshal(doc, &elems) != nil {
				return nil, false
			}
			var n int
			if err := json.Unmarshal([]byte(s), &n); err != nil || n < 0 || n >= len(elems) {
				return nil, false
			}
			doc = elems[n]
		default:
			return nil, false
		}
	}
	return doc, true
}

func FuzzSet(f *testing.F) {
	for _, tt := range setTests {
		f.Add([]byte(tt.doc), tt.path, tt.value)
	}
	f.Fuzz(func(t *testing.T, doc []byte, path, value string) {
		out, err := Set(doc, path, value)
		if err != nil {
			return
		}
		if !json.Valid(out) {
			t.Fatalf("Set(%q, %q, %q) = %q: not valid JSON", doc, path, value, out)
		}
		segs, _ := splitPath(path)
		got, ok := get(out, segs)
		want, _ := encodeValue(value)
		if !ok {
			t.Fatalf("Set(%q, %q, %q) = %q: value not found at path", doc, path, value, out)
		}
		if !json.Valid(got) || !jsonEqual(got, want) {
			t.Fatalf("Set(%q, %q, %q) = %q: got %s at path, want %s", doc, path, value, out, got, want)
		}
	})
}

// jsonEqual compares two JSON values semantically.
func jsonEqual(a, b []byte) bool {
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return false
	}
	xb, _ := json.Marshal(x)
	yb, _ := json.Marshal(y)
	return string(xb) == string(yb)
}

func TestEditor(t *testing.T) {
	for _, tt := range []struct {
		env  map[string]string
		want string
	}{
		{map[string]string{"VISUAL": "nano", "EDITOR": "ed"}, "nano"},
		{map[string]string{"EDITOR": "ed"}, "ed"},
		{map[string]string{"VISUAL": "  ", "EDITOR": "ed"}, "ed"},
		{nil, "vi"},
	} {
		if got := Editor(func(k string) string { return tt.env[k] }); got != tt.want {
			t.Errorf("Editor(%v) = %q, want %q", tt.env, got, tt.want)
		}
	}
}

// A draft shows JSON pretty-printed, compacts it back when it was compact,
// aborts on an empty file and keeps the stored bytes when nothing changed.
func TestDraft(t *testing.T) {
	for _, tt := range []struct {
		name, body, saved, want, warning string
		err                              error
	}{
		{"unchanged", `{"a":1}`, "{\n  \"a\": 1\n}\n", "", "", nil},
		{"compact again", `{"a":1}`, "{\n  \"a\": 2\n}\n", `{"a":2}`, "", nil},
		{"pretty stays pretty", "{\n  \"a\": 1\n}", "{\n  \"a\": 2\n}\n", "{\n  \"a\": 2\n}\n", "", nil},
		{"not JSON any more", `{"a":1}`, `{"a":`, `{"a":`, "no longer valid JSON", nil},
		{"text", "hello", "bye", "bye", "", nil},
		{"empty aborts", `{"a":1}`, " \n", "", "", ErrEmptyEdit},
	} {
		t.Run(tt.name, func(t *testing.T) {
			d, err := NewDraft([]byte(tt.body))
			if err != nil {
				t.Fatal(err)
			}
			defer d.Remove()
			// The editor: a shell command that writes what the user saves.
			script := filepath.Join(t.TempDir(), "editor.sh")
			os.WriteFile(script, []byte("#!/bin/sh\nprintf '%s' \"$SAVED\" > \"$1\"\n"), 0o755)
			cmd := d.Command(script)
			cmd.Env = append(os.Environ(), "SAVED="+tt.saved)
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("%v: %s", err, out)
			}
			got, warning, err := d.Result()
			if !errors.Is(err, tt.err) || string(got) != tt.want || !strings.Contains(warning, tt.warning) {
				t.Errorf("Result() = %q, %q, %v; want %q, %q, %v", got, warning, err, tt.want, tt.warning, tt.err)
			}
		})
	}
}
