package relay

import (
	"fmt"
	"testing"
	"time"
)

func TestParseRate(t *testing.T) {
	for in, want := range map[string]float64{"": 0, "50/s": 50, "50": 50, "600/m": 10, "7200/h": 2, " 5 / s ": 5} {
		if got, err := ParseRate(in); err != nil || got != want {
			t.Errorf("%q: %v %v, want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"x", "-1/s", "5/d", "NaN", "/s"} {
		if _, err := ParseRate(in); err == nil {
			t.Errorf("%q accepted", in)
		}
	}
}

func TestRateLimitRefills(t *testing.T) {
	l := newRateLimits(2, 2) // 2 per second, bursts of 2
	now := time.Unix(1000, 0)
	for i := range 2 {
		if _, ok := l.allow("a", now); !ok {
			t.Fatalf("burst %d refused", i)
		}
	}
	wait, ok := l.allow("a", now)
	if ok || wait != 500*time.Millisecond || retryAfter(wait) != "1" {
		t.Fatalf("third: %v %v", ok, wait)
	}
	if _, ok := l.allow("b", now); !ok {
		t.Fatal("channel b shares a's bucket")
	}
	if _, ok := l.allow("a", now.Add(500*time.Millisecond)); !ok {
		t.Fatal("no refill after 500ms")
	}
	if _, ok := l.allow("a", now.Add(600*time.Millisecond)); ok {
		t.Fatal("refilled too much")
	}
	if newRateLimits(0, 0) != nil {
		t.Fatal("rate 0 limits")
	}
}

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
