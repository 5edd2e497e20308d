package catalog

import (
	"encoding/binary"
	"math/rand/v2"

	"github.com/google/uuid"
)

// source draws IDs and numbers from a seeded *rand.Rand, or from the
// system's randomness when r is nil.
type source struct{ r *rand.Rand }

// uuid returns a random (version 4) UUID, from s's numbers when seeded.
func (s source) uuid() string {
	if s.r == nil {
		return uuid.NewString()
	}
	return uuid.Must(uuid.NewRandomFromReader(randReader(s))).String()
}

// randReader reads bytes from a seeded *rand.Rand.
type randReader struct{ r *rand.Rand }

func (rr randReader) Read(p []byte) (int, error) {
	for i := 0; i < len(p); i += 8 {
		var b [8]byte
		binary.LittleEndian.PutUint64(b[:], rr.r.Uint64())
		copy(p[i:], b[:])
	}
	return len(p), nil
}

// intN returns a number in [0, n).
func (s source) intN(n int) int {
	if s.r == nil {
		return rand.IntN(n)
	}
	return s.r.IntN(n)
}
