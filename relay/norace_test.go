//go:build !race

package relay

const raceStacks = 1
