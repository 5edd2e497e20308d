package relay

import (
	"sync"
	"time"
)

// throttle lets a repeated log line through at most once per
// throttlePeriod, and says how many it held back since the last one.
type throttle struct {
	mu   sync.Mutex
	last time.Time
	held int
}

const throttlePeriod = 10 * time.Second

// allow reports whether the line may be logged at now, and how many were
// held back before it.
func (t *throttle) allow(now time.Time) (ok bool, held int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if !t.last.IsZero() && now.Sub(t.last) < throttlePeriod && now.After(t.last) {
		t.held++
		return false, 0
	}
	held, t.held, t.last = t.held, 0, now
	return true, held
}
