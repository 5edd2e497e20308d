package relay

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"sync"
	"time"
)

// ParseRate reads a rate such as "50/s", "600/m", "1000/h" or "50" (per
// second) and returns it in events per second. "0" or "" means no limit.
func ParseRate(s string) (float64, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, nil
	}
	num, unit, _ := strings.Cut(s, "/")
	n, err := strconv.ParseFloat(strings.TrimSpace(num), 64)
	if err != nil || n < 0 || math.IsInf(n, 0) || math.IsNaN(n) {
		return 0, fmt.Errorf("bad rate %q: use a number per second, minute or hour, e.g. 50/s", s)
	}
	switch strings.TrimSpace(unit) {
	case "", "s", "sec", "second":
		return n, nil
	case "m", "min", "minute":
		return n / 60, nil
	case "h", "hour":
		return n / 3600, nil
	}
	return 0, fmt.Errorf("bad rate %q: the unit after / must be s, m or h", s)
}

// rateLimits is a token bucket per channel: each channel may take rate
// deliveries per second on average and burst at once. A nil *rateLimits
// allows everything.
type rateLimits struct {
	rate  float64
	burst float64

	mu      sync.Mutex
	buckets map[string]*bucket
}

type bucket struct {
	tokens float64
	last   time.Time
}

// maxBuckets bounds the map against senders inventing channel names (open
// mode); full buckets carry no state and are dropped when it is reached.
const maxBuckets = 4096

func newRateLimits(rate float64, burst int) *rateLimits {
	if rate <= 0 {
		return nil
	}
	if burst <= 0 {
		burst = int(math.Ceil(rate))
	}
	return &rateLimits{rate: rate, burst: float64(burst), buckets: map[string]*bucket{}}
}

// allow takes one token from channel's bucket. When the bucket is empty it
// reports false and how long until a token is back.
func (l *rateLimits) allow(channel string, now time.Time) (time.Duration, bool) {
	if l == nil {
		return 0, true
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.buckets[channel]
	if b == nil {
		if len(l.buckets) >= maxBuckets {
			l.sweep(now)
		}
		b = &bucket{tokens: l.burst, last: now}
		l.buckets[channel] = b
	}
	b.tokens = min(l.burst, b.tokens+now.Sub(b.last).Seconds()*l.rate)
	b.last = now
	if b.tokens >= 1 {
		b.tokens--
		return 0, true
	}
	return time.Duration((1 - b.tokens) / l.rate * float64(time.Second)), false
}

// sweep drops buckets that have refilled. Callers hold mu.
func (l *rateLimits) sweep(now time.Time) {
	for name, b := range l.buckets {
		if b.tokens+now.Sub(b.last).Seconds()*l.rate >= l.burst {
			delete(l.buckets, name)
		}
	}
}

// retryAfter is a Retry-After value in whole seconds, at least 1.
func retryAfter(d time.Duration) string {
	return strconv.Itoa(max(1, int(math.Ceil(d.Seconds()))))
}
