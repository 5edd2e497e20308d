//go:build race

package relay

// raceStacks: the race detector doubles the stack guard, so a goroutine's
// stack grows to twice what it would without it.
const raceStacks = 2
