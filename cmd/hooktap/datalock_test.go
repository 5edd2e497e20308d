package main

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestSecondRelayOnOneDataDirIsRefused: two relays (dev's embedded one or
// hooktap relay) on one --data each count the channel's seqs in memory, so
// the commits of one collide with the other's and fail (UNIQUE constraint)
// while its senders are answered 200 from the agent: deliveries answered
// as committed were not in the buffer. The second is refused in one line.
func TestSecondRelayOnOneDataDirIsRefused(t *testing.T) {
	data := t.TempDir()
	first := startProc(t, "dev", "--no-tui", "--no-web", "--addr", "127.0.0.1:0", "--data", data,
		"--provider-data", t.TempDir(), "--db", filepath.Join(t.TempDir(), "a.db"), "--forward-to", "http://127.0.0.1:1/hooks")
	first.line(t, "Webhook URL")
	for _, args := range [][]string{
		{"dev", "--no-tui", "--no-web", "--addr", "127.0.0.1:0", "--data", data, "--provider-data", t.TempDir(),
			"--db", filepath.Join(t.TempDir(), "b.db"), "--forward-to", "http://127.0.0.1:1/hooks"},
		{"relay", "--addr", "127.0.0.1:0", "--data", data},
	} {
		_, errOut, code := hooktapOut(t, nil, args...)
		if code == 0 || !strings.Contains(errOut, "already uses the relay data in "+data) || strings.Count(strings.TrimSpace(errOut), "\n") > 0 {
			t.Errorf("%s on the data of a running dev: exit %d, stderr:\n%s", args[0], code, errOut)
		}
	}
	first.stop(t)
	// Once the first is gone the directory is free again.
	again := startProc(t, "relay", "--addr", "127.0.0.1:0", "--data", data)
	again.line(t, "listening on ")
	again.stop(t)
}

// TestSecondDevNamesEveryFlag: a second dev with the defaults is told, in
// its first refusal, every flag it needs (not one per try), and one that
// gives its own relay data and emulator state is not let into the first
// one's store.
func TestSecondDevNamesEveryFlag(t *testing.T) {
	env := []string{"XDG_DATA_HOME=" + t.TempDir()} // the same defaults for both
	first := startProcEnv(t, env, "dev", "--no-tui", "--no-web", "--addr", "127.0.0.1:0", "--forward-to", "http://127.0.0.1:1/hooks")
	first.line(t, "Webhook URL")
	_, errOut, code := hooktapOut(t, env, "dev", "--no-tui", "--no-web", "--addr", "127.0.0.1:0", "--forward-to", "http://127.0.0.1:1/hooks")
	if code != 1 || strings.Count(errOut, "\n") != 1 || !strings.Contains(errOut, "give this one its own --data DIR --provider-data DIR --db FILE") {
		t.Errorf("second dev: exit %d, stderr %q", code, errOut)
	}
	_, errOut, code = hooktapOut(t, env, "dev", "--no-tui", "--no-web", "--addr", "127.0.0.1:0", "--forward-to", "http://127.0.0.1:1/hooks",
		"--data", t.TempDir(), "--provider-data", t.TempDir())
	if code != 1 || !strings.Contains(errOut, "already uses the store ") || !strings.HasSuffix(errOut, "give this one its own --db FILE\n") {
		t.Errorf("second dev on the first one's store: exit %d, stderr %q", code, errOut)
	}
	// With all three of its own, it runs.
	second := startProcEnv(t, env, "dev", "--no-tui", "--no-web", "--addr", "127.0.0.1:0", "--forward-to", "http://127.0.0.1:1/hooks",
		"--data", t.TempDir(), "--provider-data", t.TempDir(), "--db", filepath.Join(t.TempDir(), "b.db"))
	second.line(t, "Webhook URL")
	second.stop(t)
	first.stop(t)
}

// TestSecondAgentOnOneStoreIsRefused: a listen holds its store as dev
// does; a second listen on it (another channel: the relay would take it)
// and a dev on it are refused in one line, instead of mixing their
// deliveries into the first one's store.
func TestSecondAgentOnOneStoreIsRefused(t *testing.T) {
	_, relayURL := startRelay(t)
	db := filepath.Join(t.TempDir(), "a.db")
	first := startProc(t, "listen", "--relay", relayURL, "--channel", "ci", "--forward-to", "http://127.0.0.1:1/hooks",
		"--db", db, "--no-tui", "--no-web")
	first.line(t, "hooktap is ready")
	for _, args := range [][]string{
		{"listen", "--relay", relayURL, "--channel", "ci2", "--forward-to", "http://127.0.0.1:1/hooks", "--db", db, "--no-tui", "--no-web"},
		{"dev", "--no-tui", "--no-web", "--addr", "127.0.0.1:0", "--data", t.TempDir(), "--provider-data", t.TempDir(),
			"--db", db, "--forward-to", "http://127.0.0.1:1/hooks"},
	} {
		_, errOut, code := hooktapOut(t, nil, args...)
		if code != 1 || !strings.Contains(errOut, "already uses the store "+db) || strings.Count(errOut, "\n") != 1 {
			t.Errorf("%s on a running listen's store: exit %d, stderr %q", args[0], code, errOut)
		}
	}
	first.stop(t)
	again := startProc(t, "listen", "--relay", relayURL, "--channel", "ci2", "--forward-to", "http://127.0.0.1:1/hooks",
		"--db", db, "--no-tui", "--no-web")
	again.line(t, "hooktap is ready")
	again.stop(t)
}
