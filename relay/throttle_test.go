package relay

import (
	"testing"
	"time"
)

func TestThrottle(t *testing.T) {
	var th throttle
	t0 := time.Unix(1000, 0)
	if ok, held := th.allow(t0); !ok || held != 0 {
		t.Fatalf("first: %v %d", ok, held)
	}
	for i := 1; i <= 5; i++ {
		if ok, _ := th.allow(t0.Add(time.Duration(i) * time.Second)); ok {
			t.Fatalf("line %d within the period was let through", i)
		}
	}
	if ok, held := th.allow(t0.Add(throttlePeriod)); !ok || held != 5 {
		t.Fatalf("after the period: %v, held %d, want true 5", ok, held)
	}
	// A clock that jumps back does not silence the line for good.
	if ok, _ := th.allow(t0.Add(-time.Hour)); !ok {
		t.Fatal("a clock that went back silenced the line")
	}
}
