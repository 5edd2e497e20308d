package catalog

import (
	crand "crypto/rand"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
)

// source draws IDs and numbers from a seeded *rand.Rand, or from the
// system's randomness when r is nil.
type source struct{ r *rand.Rand }

// uuid returns a random (version 4) UUID.
func (s source) uuid() string {
	var b [16]byte
	if s.r == nil {
		crand.Read(b[:]) // never fails (crypto/rand.Read, Go 1.24+)
	} else {
		binary.BigEndian.PutUint64(b[:8], s.r.Uint64())
		binary.BigEndian.PutUint64(b[8:], s.r.Uint64())
	}
	b[6] = b[6]&0x0f | 0x40 // version 4
	b[8] = b[8]&0x3f | 0x80 // RFC 4122 variant
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}

// intN returns a number in [0, n).
func (s source) intN(n int) int {
	if s.r == nil {
		return rand.IntN(n)
	}
	return s.r.IntN(n)
}
