package relay

import (
	"errors"
	"fmt"
	"path"
)

// MatchEvents reports whether an action matches any of the glob patterns
// (path.Match syntax: "payable.*", "counterpart.created"). No patterns
// match everything.
func MatchEvents(patterns []string, action string) bool {
	if len(patterns) == 0 {
		return true
	}
	for _, p := range patterns {
		if ok, _ := path.Match(p, action); ok {
			return true
		}
	}
	return false
}

// Limits of an event filter: every delivery of a channel is matched
// against the filters of all its agents, so a filter's size is bounded.
const (
	MaxPatterns      = 64
	MaxPatternLength = 128
)

// ValidatePatterns checks event globs: their syntax and the limits.
func ValidatePatterns(patterns []string) error {
	if len(patterns) > MaxPatterns {
		return fmt.Errorf("%d event patterns: at most %d", len(patterns), MaxPatterns)
	}
	for _, p := range patterns {
		if len(p) > MaxPatternLength {
			return fmt.Errorf("event pattern %.40q... is %d bytes long: at most %d", p, len(p), MaxPatternLength)
		}
		if _, err := path.Match(p, ""); err != nil {
			return errors.New("bad event pattern " + p)
		}
	}
	return nil
}
