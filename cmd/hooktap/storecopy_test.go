package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// copyStore copies an agent store's files (the database, its write-ahead
// log and index, when there) from src to dst, as a user copying a project
// directory to another machine would.
func copyStore(t *testing.T, src, dst string) {
	t.Helper()
	files, err := filepath.Glob(src + "*")
	if err != nil || len(files) == 0 {
		t.Fatalf("no store files at %s: %v", src, err)
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(dst+strings.TrimPrefix(f, src), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

// TestCopiedStoreIsRefused: README, Team relay: "a copy of a store used on
// two machines gets the same" refusal as a reused id ("agent id agt_... is
// bound to another agent's key; use another --db"). But a copy holds the
// same key as the original, so the relay takes it for the same agent
// reconnecting: each connection replaces the other ("relay closed the
// connection: replaced"), for as long as both run. In a manual run with 40
// deliveries the two copies flapped for the whole run, both logged "the
// relay connection keeps failing and no delivery gets through", and their
// apps got 23 and 32 of the deliveries: 15 went to both machines.
func TestCopiedStoreIsRefused(t *testing.T) {
	app := newCountingApp(t, 0)
	_, relayURL := startRelay(t)
	dir := t.TempDir()
	original, copied := filepath.Join(dir, "a.db"), filepath.Join(dir, "b.db")
	args := func(db string) []string {
		return []string{"listen", "--no-web", "--relay", relayURL, "--channel", "copy", "--forward-to", app.URL,
			"--db", db, "--no-tui", "--no-web"}
	}
	first := startProc(t, args(original)...)
	first.line(t, "hooktap is ready")
	first.stop(t)
	copyStore(t, original, copied)

	a := startProc(t, args(original)...)
	a.line(t, "hooktap is ready")
	b := startProc(t, args(copied)...)
	select {
	case err := <-b.done:
		b.done <- err // for Cleanup
		if !strings.Contains(b.stderr.String(), "another running agent with a copy of this store") {
			t.Fatalf("the copy exited with %q, want the agent_taken refusal", b.stderr)
		}
		// The original goes on.
		if status, evt := postEvent(relayURL+"/h/copy", 1); status != 200 {
			t.Fatalf("after the copy was refused, a post got %d", status)
		} else {
			app.waitFor(t, []string{evt}, 10*time.Second)
		}
	case <-time.After(10 * time.Second):
		lost := a.line(t, "relay connection lost")
		t.Fatalf("the copy of the store was not refused in 10 s; the original printed %q", lost)
	}
}
