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
