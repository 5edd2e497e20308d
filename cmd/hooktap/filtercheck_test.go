package main

import (
	"encoding/json"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hooktap/hooktap/relay"
)

// TestCheckFilter: a filter name no known event has is a warning with the
// nearest known name; names and patterns that match a known event, of
// Monite, Monk or the legacy payloads, are not.
func TestCheckFilter(t *testing.T) {
	got := checkFilter(relay.Filter{
		Events: []string{"payabel.created", "payable.created", "invoice.*", "*", "create", "payabel.*",
			"counterpart.creatd", "acme.thing_happened", "Payable.paid"},
		ObjectTypes: []string{"payable", "invoice", "payabel", "zzzz"},
	})
	want := []filterWarning{
		{"--events", "payabel.created", "payable.created"},
		{"--events", "payabel.*", "payable.*"},
		{"--events", "counterpart.creatd", "counterpart.created"},
		{"--events", "acme.thing_happened", ""},
		{"--events", "Payable.paid", "payable.paid"},
		{"--object-type", "payabel", "payable"},
		{"--object-type", "zzzz", ""},
	}
	if !slices.Equal(got, want) {
		t.Errorf("checkFilter:\n got %v\nwant %v", got, want)
	}
	for w, s := range map[filterWarning]string{
		want[0]: "--events payabel.created is not a known event (did you mean payable.created?); listening for it as given",
		want[1]: "--events payabel.* matches no known event (did you mean payable.*?); listening for it as given",
		want[3]: "--events acme.thing_happened is not a known event (hooktap trigger --list shows them); listening for it as given",
		want[5]: "--object-type payabel is not a known object type (did you mean payable?); listening for it as given",
		{"--events", "a\x1b]52;c;eA==\x07\nb", ""}: "--events \"a\ufffd]52;c;eA==\ufffd\\nb\" is not a known event (hooktap trigger --list shows them); listening for it as given",
	} {
		if w.String() != s {
			t.Errorf("%+v says %q, want %q", w, w.String(), s)
		}
	}
}

// TestListenWarnsOfUnknownEvents: listen takes an --events name or an
// --object-type no known event has (it may be a provider's new event), and
// says so once before it starts, with the nearest known name: in words on
// stderr, as a JSON line under --json, and on the terminal UI's status
// line.
func TestListenWarnsOfUnknownEvents(t *testing.T) {
	_, relayURL := startRelay(t)
	filter := []string{"--events", "payabel.created,invoice.*", "--object-type", "payable,payabel"}

	p := startProc(t, listenCmd(relayURL, "typo-json", "http://127.0.0.1:9/webhooks", filepath.Join(t.TempDir(), "a.db"),
		append([]string{"--json"}, filter...)...)...)
	var lines []string
	for {
		l := p.line(t, `"type":`)
		if strings.Contains(l, `"type":"ready"`) {
			break
		}
		lines = append(lines, l)
	}
	p.stop(t)
	var warnings []warningLine
	for _, l := range lines {
		var w warningLine
		if json.Unmarshal([]byte(l), &w) == nil && w.Type == "warning" {
			warnings = append(warnings, w)
		}
	}
	want := []warningLine{
		{"warning", "--events", "payabel.created", "payable.created",
			"--events payabel.created is not a known event (did you mean payable.created?); listening for it as given"},
		{"warning", "--object-type", "payabel", "payable",
			"--object-type payabel is not a known object type (did you mean payable?); listening for it as given"},
	}
	if !slices.Equal(warnings, want) {
		t.Errorf("--json: the lines before ready were\n%s\nwant the warnings %+v", strings.Join(lines, "\n"), want)
	}
	if strings.Contains(p.stderrText(), "not a known") {
		t.Errorf("--json: the warning is on stderr too:\n%s", p.stderrText())
	}

	p = startProc(t, listenCmd(relayURL, "typo-words", "http://127.0.0.1:9/webhooks", filepath.Join(t.TempDir(), "b.db"),
		append([]string{"--no-tui"}, filter...)...)...)
	p.line(t, "hooktap is ready")
	p.stop(t)
	got := regexp.MustCompile(`(?m)^hooktap: --.*$`).FindAllString(p.stderrText(), -1)
	if len(got) != 2 || got[0] != "hooktap: "+want[0].Message || got[1] != "hooktap: "+want[1].Message {
		t.Errorf("--no-tui: stderr\n%s\nwant the two warnings, each once", p.stderrText())
	}

	w := devInTmux(t, "--forward-to", "http://127.0.0.1:9/webhooks", "--addr", "127.0.0.1:0", "--no-web",
		"--db", filepath.Join(t.TempDir(), "dev.db"), "--data", t.TempDir(), "--no-provider", "--events", "payabel.created")
	w.waitScreen(regexp.MustCompile(`--events payabel\.created is not a known event \(did you mean payable\.created\?\)`), 30*time.Second)
}
