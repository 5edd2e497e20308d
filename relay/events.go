package relay

import (
	"errors"
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

// ValidatePatterns checks event globs for syntax errors.
func ValidatePatterns(patterns []string) error {
	for _, p := range patterns {
		if _, err := path.Match(p, ""); err != nil {
			return errors.New("bad event pattern " + p)
		}
	}
	return nil
}
