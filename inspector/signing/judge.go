package signing

import (
	"fmt"
	"math"
	"time"
)

// judge finishes a verification once the header has been parsed. match
// reports whether one of the header's signatures is right for a body; ts is
// the signed timestamp; bothWays also rejects timestamps too far in the
// future.
func judge(r Result, match func([]byte) bool, body []byte, ts int64, now time.Time, bothWays bool) Result {
	if !match(body) {
		r.State = Invalid
		r.Reason = "signature does not match: wrong secret, or the body was changed"
		for _, v := range bodyVariants(body) {
			if match(v) {
				r.Reason = "body changed after signing (whitespace/re-serialized)"
				break
			}
		}
		return r
	}
	tol := int64(Tolerance / time.Second)
	switch d := age(now, ts); {
	case d > tol:
		r.State = Expired
		r.Reason = fmt.Sprintf("timestamp is %ds old (tolerance %ds); the signature itself matches", d, tol)
	case bothWays && d < -tol:
		r.State = Expired
		r.Reason = fmt.Sprintf("timestamp is %ds in the future (tolerance %ds); the signature itself matches", -d, tol)
	case d < -tol:
		// Age-only schemes (Monite, Monk, Stripe) accept it, and so does
		// this; but a sender's clock that far ahead is worth a word.
		r.State = Valid
		r.Reason = fmt.Sprintf("signature matches; its timestamp is %ds in the future (a clock is off; the scheme checks age only)", -d)
	default:
		r.State, r.Reason = Valid, "signature matches"
	}
	return r
}

// age returns now-ts in whole seconds, saturating instead of overflowing so
// that absurd header values cannot wrap around into "fresh".
func age(now time.Time, ts int64) int64 {
	n := now.Unix()
	d := n - ts
	switch {
	case n >= 0 && ts < 0 && d < 0:
		return math.MaxInt64
	case n < 0 && ts > 0 && d > 0, d == math.MinInt64:
		return math.MinInt64 + 1
	}
	return d
}
