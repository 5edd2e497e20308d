package relay

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"
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
	rate  rate.Limit
	burst int
	nodes int // relay nodes sharing the limit (share); 1 on a single relay

	mu       sync.Mutex
	limiters map[string]*rate.Limiter
}

// maxLimiters bounds the map against senders inventing channel names (open
// mode); full buckets carry no state and are dropped when it is reached.
const maxLimiters = 4096

func newRateLimits(perSecond float64, burst int) *rateLimits {
	if perSecond <= 0 {
		return nil
	}
	if burst <= 0 {
		burst = int(math.Ceil(perSecond))
	}
	return &rateLimits{rate: rate.Limit(perSecond), burst: burst, nodes: 1, limiters: map[string]*rate.Limiter{}}
}

// allow takes one token from channel's bucket. When the bucket is empty it
// takes none, and reports false and how long until a token is back.
func (l *rateLimits) allow(channel string, now time.Time) (time.Duration, bool) {
	if l == nil {
		return 0, true
	}
	l.mu.Lock() // held to the end, so that a cancelled reservation gives its token back whole
	defer l.mu.Unlock()
	lim := l.limiters[channel]
	if lim == nil {
		if len(l.limiters) >= maxLimiters {
			l.sweep(now)
		}
		lim = rate.NewLimiter(l.nodeRate(), l.nodeBurst())
		l.limiters[channel] = lim
	}
	r := lim.ReserveN(now, 1)
	if wait := r.DelayFrom(now); wait > 0 {
		r.CancelAt(now)
		return wait, false
	}
	return 0, true
}

// sweep drops the limiters whose bucket is full. Callers hold mu.
func (l *rateLimits) sweep(now time.Time) {
	for name, lim := range l.limiters {
		if lim.TokensAt(now) >= float64(l.nodeBurst()) {
			delete(l.limiters, name)
		}
	}
}

// share divides the limit among n relay nodes of a cluster: each node
// holds rate/n and burst/n (at least 1) of every channel. That is exact
// when the load balancer spreads a channel's senders evenly over the
// nodes (round robin); when they all land on one node, the channel gets
// rate/n. The census (clusterstats.go) calls it every few seconds, so a
// node that joins or dies changes the shares within that time.
func (l *rateLimits) share(n int) {
	if l == nil || n < 1 {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if n == l.nodes {
		return
	}
	l.nodes = n
	for _, lim := range l.limiters {
		lim.SetLimit(l.nodeRate())
		lim.SetBurst(l.nodeBurst())
	}
}

func (l *rateLimits) nodeRate() rate.Limit { return l.rate / rate.Limit(l.nodes) }
func (l *rateLimits) nodeBurst() int {
	return max(1, int(math.Ceil(float64(l.burst)/float64(l.nodes))))
}

// retryAfter is a Retry-After value in whole seconds, at least 1.
func retryAfter(d time.Duration) string {
	return strconv.Itoa(max(1, int(math.Ceil(d.Seconds()))))
}
