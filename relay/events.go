package relay

import (
	"errors"
	"fmt"
	"path"
	"slices"

	"github.com/hooktap/hooktap/relay/payload"
	"github.com/hooktap/hooktap/relay/wire"
)

// Event is what an agent's filter looks at in a delivery.
type Event struct {
	Action, ObjectType, EntityID string
}

// EventOf is the event of a delivery whose fields were read (nil: none).
func EventOf(f *payload.Fields) Event {
	if f == nil {
		return Event{}
	}
	return Event{Action: f.Action, ObjectType: f.ObjectType, EntityID: f.EntityID}
}

// Filter selects the deliveries an agent receives: action globs, object
// types and entity ids. An empty list takes any value; a delivery must
// match every list that is not empty.
type Filter struct {
	Events      []string // globs: "payable.*"
	ObjectTypes []string // exact
	EntityIDs   []string // exact
}

// Match reports whether the filter selects e.
func (f Filter) Match(e Event) bool {
	return MatchEvents(f.Events, e.Action) &&
		(len(f.ObjectTypes) == 0 || slices.Contains(f.ObjectTypes, e.ObjectType)) &&
		(len(f.EntityIDs) == 0 || slices.Contains(f.EntityIDs, e.EntityID))
}

// Validate checks the filter's globs and its size.
func (f Filter) Validate() error {
	if err := ValidatePatterns(f.Events); err != nil {
		return err
	}
	for _, l := range []struct {
		name   string
		values []string
	}{{"object types", f.ObjectTypes}, {"entity ids", f.EntityIDs}} {
		if len(l.values) > MaxPatterns {
			return fmt.Errorf("%d %s: at most %d", len(l.values), l.name, MaxPatterns)
		}
		for _, v := range l.values {
			if v == "" || len(v) > MaxPatternLength {
				return fmt.Errorf("%s must be 1-%d bytes long", l.name, MaxPatternLength)
			}
		}
	}
	return nil
}

// MatchEvents reports whether an action matches any of the glob patterns
// (wire.MatchGlob: "payable.*", "counterpart.created"). No patterns
// match everything.
func MatchEvents(patterns []string, action string) bool {
	if len(patterns) == 0 {
		return true
	}
	return slices.ContainsFunc(patterns, func(p string) bool { return wire.MatchGlob(p, action) })
}

// Limits of a filter: every delivery of a channel is matched against the
// filters of all its agents, so a filter's size is bounded.
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
