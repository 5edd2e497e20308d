package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestProgressBarLine draws the bar on an injected writer with a clock the
// test moves: rate and ETA, redraws at most every 100 ms but always the
// end, and a wiped line when done.
func TestProgressBarLine(t *testing.T) {
	var out bytes.Buffer
	now := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	p := newProgressOn(&out, "exporting", func() time.Time { return now })
	p.set(0, 4000)
	now = now.Add(50 * time.Millisecond)
	p.set(100, 4000) // too soon: not drawn
	now = now.Add(950 * time.Millisecond)
	p.set(1000, 4000)
	now = now.Add(time.Millisecond)
	p.set(4000, 4000) // the end: drawn however soon
	p.finish()
	frames := strings.Split(out.String(), "\r")[1:]
	want := []string{
		"exporting [░░░░░░░░░░░░░░░░░░░░]   0%  0/4,000\x1b[K",
		"exporting [█████░░░░░░░░░░░░░░░]  25%  1,000/4,000  1,000/s  ETA 3s\x1b[K",
		"exporting [████████████████████] 100%  4,000/4,000  3,996/s\x1b[K",
		"\x1b[K",
	}
	if len(frames) != len(want) {
		t.Fatalf("%d frames, want %d: %q", len(frames), len(want), frames)
	}
	for i := range want {
		if frames[i] != want[i] {
			t.Errorf("frame %d:\n got %q\nwant %q", i, frames[i], want[i])
		}
	}
	var nobody *progressBar // not a terminal: every call is a no-op
	nobody.set(1, 2)
	nobody.finish()
	if nobody.progress() != nil {
		t.Error("a nil bar hands the store a Progress")
	}
}

// TestProgressQuietWhenPipedAndJSONSummaries runs the real binary with
// stdout and stderr piped: no bar, no escape codes, and --json prints one
// summary line per command.
func TestProgressQuietWhenPipedAndJSONSummaries(t *testing.T) {
	db := evStore(t)
	out, errOut, code := hooktapOut(t, nil, "events", "export", "--db", db, "--json")
	if code != 0 || strings.Count(out, "\n") != 5 {
		t.Fatalf("export: exit %d, %d lines, stderr %q", code, strings.Count(out, "\n"), errOut)
	}
	var sum map[string]any
	if strings.Count(errOut, "\n") != 1 || json.Unmarshal([]byte(errOut), &sum) != nil ||
		sum["type"] != "export" || sum["deliveries"] != 5.0 || sum["duration_ms"] == nil {
		t.Errorf("export --json summary on stderr: %q", errOut)
	}
	file := filepath.Join(t.TempDir(), "export.jsonl")
	if err := os.WriteFile(file, []byte(out), 0o600); err != nil {
		t.Fatal(err)
	}
	copyDB := filepath.Join(t.TempDir(), "copy.db")
	out, errOut, code = hooktapOut(t, nil, "events", "import", "--db", copyDB, "--json", file)
	sum = nil
	if code != 0 || errOut != "" || json.Unmarshal([]byte(out), &sum) != nil || strings.Count(out, "\n") != 1 ||
		sum["type"] != "import" || sum["deliveries"] != 5.0 || sum["attempts"] != 4.0 || sum["skipped"] != 0.0 {
		t.Errorf("import --json: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	out, errOut, code = hooktapOut(t, nil, "events", "prune", "--db", copyDB, "--max-deliveries", "2", "--json")
	sum = nil
	if code != 0 || errOut != "" || json.Unmarshal([]byte(out), &sum) != nil ||
		sum["type"] != "prune" || sum["pruned"] != 3.0 || sum["left"] != 2.0 {
		t.Errorf("prune --json: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	_, errOut, _ = hooktapOut(t, nil, "events", "list", "--db", copyDB, "--search", "chairs")
	if strings.ContainsAny(errOut, "\r\x1b") {
		t.Errorf("a piped search drew a bar: %q", errOut)
	}
}

// TestProgressOnATerminal runs the real binary under script(1), whose pty
// makes stderr a terminal: import draws its bar, with rate, and wipes it
// before the summary.
func TestProgressOnATerminal(t *testing.T) {
	db := evStore(t)
	out, errOut, code := hooktapOut(t, nil, "events", "export", "--db", db)
	if code != 0 {
		t.Fatalf("export: %s", errOut)
	}
	file := filepath.Join(t.TempDir(), "export.jsonl")
	if err := os.WriteFile(file, []byte(out), 0o600); err != nil {
		t.Fatal(err)
	}
	typescript := filepath.Join(t.TempDir(), "typescript")
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "script", "-q", "-e", "-c",
		hooktapBin(t)+" events import --db "+filepath.Join(t.TempDir(), "copy.db")+" "+file, typescript)
	cmd.Env = append(os.Environ(), "HOOKTAP_DB=")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("script: %v\n%s", err, b)
	}
	b, err := os.ReadFile(typescript)
	if err != nil {
		t.Fatal(err)
	}
	screen := string(b)
	bar := strings.Index(screen, "\rimporting [████████████████████] 100%  5/5")
	wipe := strings.LastIndex(screen, "\r\x1b[K")
	summary := strings.Index(screen, "imported 5 deliveries and 4 attempts")
	if bar < 0 || wipe < bar || summary < wipe || !strings.Contains(screen[bar:wipe], "/s") {
		t.Errorf("no bar, rate and wipe before the summary on a terminal:\n%q", screen)
	}
}
