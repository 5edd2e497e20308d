package natsnode

import (
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"
)

// While a node is down, the embedded server reports every failed dial of
// its routes to it (several routes per peer, retried every second) as an
// error. The relay's log says so once a minute per route, as a warning;
// the server's other errors stay errors.
func TestServerLogRouteFailuresOnceAMinute(t *testing.T) {
	var out logBuf
	now := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	l := &serverLog{log: slog.New(slog.NewTextHandler(&out, nil)), now: func() time.Time { return now }}
	l.joined.Store(true)
	fail := func(addr string, attempt int) {
		l.Errorf("Error trying to connect to route (attempt %v): %v", attempt, fmt.Errorf("dial tcp %s: connect: connection refused", addr))
	}
	for range 4 { // the pooled routes to one peer, at once
		fail("127.0.0.1:6223", 1)
	}
	fail("127.0.0.1:6224", 1)
	now = now.Add(30 * time.Second)
	fail("127.0.0.1:6223", 30)
	l.Errorf("JetStream failed to store a msg on stream '%s > %s': %v", "$G", "HOOKTAP", "disk full")
	now = now.Add(31 * time.Second)
	fail("127.0.0.1:6223", 61)

	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	var warns []string
	errs := 0
	for _, line := range lines {
		switch {
		case strings.Contains(line, "level=WARN"):
			warns = append(warns, line)
		case strings.Contains(line, "level=ERROR"):
			errs++
			if !strings.Contains(line, "disk full") {
				t.Errorf("error line %q", line)
			}
		}
	}
	want := []string{"route=127.0.0.1:6223", "route=127.0.0.1:6224", "route=127.0.0.1:6223"}
	if len(warns) != len(want) || errs != 1 {
		t.Fatalf("got %d warnings and %d errors, want %d and 1:\n%s", len(warns), errs, len(want), out.String())
	}
	for i, w := range warns {
		if !strings.Contains(w, want[i]) || !strings.Contains(w, `err="dial tcp`) || !strings.Contains(w, "once a minute") {
			t.Errorf("warning %d: %q, want %s and the dial error", i, w, want[i])
		}
	}
}
