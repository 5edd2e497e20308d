package main

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/hooktap/hooktap/inspector/catalog"
	"github.com/hooktap/hooktap/inspector/store"
	"github.com/hooktap/hooktap/relay"
)

// filterWarning is an --events pattern or --object-type value that no
// event of the catalog has: most likely a typo, which would make the
// agent miss those events without a word. It is a warning, not an error:
// a provider may send events newer than the catalog.
type filterWarning struct {
	Flag       string // "--events" or "--object-type"
	Value      string
	Suggestion string // the nearest known name, "" when none is near
}

func (w filterWarning) String() string {
	what := "is not a known event"
	switch {
	case w.Flag == "--object-type":
		what = "is not a known object type"
	case strings.ContainsAny(w.Value, `*?[\`):
		what = "matches no known event"
	}
	hint := "hooktap trigger --list shows them"
	if w.Suggestion != "" {
		hint = "did you mean " + w.Suggestion + "?"
	}
	// The value may come from the config file, and the TUI shows it: no
	// escape sequence, and one line.
	v := store.Printable(w.Value)
	if strings.ContainsAny(v, "\n\t") {
		v = strconv.Quote(v)
	}
	return fmt.Sprintf("%s %s %s (%s); listening for it as given", w.Flag, v, what, hint)
}

// legacyActions are the actions of the oldest API version's payloads,
// which carry no object type (catalog.Payload with catalog.Legacy).
var legacyActions = []string{"create", "update", "delete"}

// checkFilter returns a warning for each event pattern of f that matches
// no known action (Monite's, Monk's, the legacy ones) and each object type
// that no known event has, with the nearest known name.
func checkFilter(f relay.Filter) []filterWarning {
	actions := slices.Clone(legacyActions)
	var types []string
	for _, ev := range append(catalog.All(), catalog.MonkEvents()...) {
		actions = append(actions, ev.Action())
		if !slices.Contains(types, ev.ObjectType) {
			types = append(types, ev.ObjectType)
		}
	}
	// A pattern's nearest may be a whole object type's: payabel.* → payable.*.
	globs := slices.Clone(actions)
	for _, t := range types {
		globs = append(globs, t+".*")
	}
	var out []filterWarning
	for _, p := range f.Events {
		if slices.ContainsFunc(actions, func(a string) bool { return relay.MatchEvents([]string{p}, a) }) {
			continue
		}
		candidates := actions
		if strings.ContainsAny(p, `*?[\`) {
			candidates = globs
		}
		out = append(out, filterWarning{Flag: "--events", Value: p, Suggestion: nearest(p, candidates)})
	}
	for _, t := range f.ObjectTypes {
		if !slices.Contains(types, t) {
			out = append(out, filterWarning{Flag: "--object-type", Value: t, Suggestion: nearest(t, types)})
		}
	}
	return out
}
