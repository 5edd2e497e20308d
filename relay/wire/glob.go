package wire

import (
	"path"
	"strings"
)

// MatchGlob reports whether s matches an event glob (Hello.Events, and the
// agent's --route): path.Match's syntax, with '/' an ordinary character, as
// in the store's filters (SQLite's GLOB), which path.Match would stop '*'
// at. A malformed pattern matches nothing. No action holds a NUL
// (payload.Parse replaces control characters), so none can match what
// stands in for '/'.
func MatchGlob(pattern, s string) bool {
	ok, _ := path.Match(strings.ReplaceAll(pattern, "/", "\x00"), strings.ReplaceAll(s, "/", "\x00"))
	return ok
}
