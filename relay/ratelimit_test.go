package relay

import (
	"fmt"
	"testing"
	"time"
)

// A refused delivery takes no token: senders retrying early do not push
// the wait further out.
func TestRateLimitRefusalTakesNothing(t *testing.T) {
	l := newRateLimits(1.0/60, 0) // 1/m: the burst is one
	now := time.Unix(1000, 0)
	if _, ok := l.allow("a", now); !ok {
		t.Fatal("first refused")
	}
	for i := range 5 {
		at := now.Add(time.Duration(i) * time.Second)
		wait, ok := l.allow("a", at)
		if want := 60*time.Second - time.Duration(i)*time.Second; ok || wait.Round(time.Millisecond) != want {
			t.Fatalf("retry %d: %v %v, want a wait of %v", i, ok, wait, want)
		}
	}
	if _, ok := l.allow("a", now.Add(time.Minute)); !ok {
		t.Fatal("refused after a minute")
	}
}

// The limiters of channels senders invent are dropped once their buckets
// are full again.
func TestRateLimitersBounded(t *testing.T) {
	l := newRateLimits(1, 1)
	now := time.Unix(1000, 0)
	for i := range maxLimiters {
		l.allow(fmt.Sprint("c", i), now)
	}
	l.allow("busy", now) // none has refilled yet: all are kept
	if len(l.limiters) != maxLimiters+1 {
		t.Fatalf("%d limiters, want %d", len(l.limiters), maxLimiters+1)
	}
	if _, ok := l.allow("busy", now.Add(500*time.Millisecond)); ok {
		t.Fatal("busy refilled early")
	}
	l.allow("new", now.Add(time.Second)) // all full again: swept
	if len(l.limiters) != 1 {
		t.Fatalf("%d limiters after the sweep, want 1", len(l.limiters))
	}
}
