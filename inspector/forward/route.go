package forward

import (
	"fmt"
	"path"
	"strings"
	"time"

	"github.com/hooktap/hooktap/relay/wire"
)

// Route sends the deliveries whose action matches Events, a glob as
// --events takes ("payable.*"), to a target of their own.
type Route struct {
	Events string
	*Forwarder
}

// ParseRoute reads a route as the user writes it: GLOB=URL, e.g.
// "payable.*=http://localhost:3000/payables". newForwarder makes the
// route's forwarder (New, or NewTransport for make bench).
func ParseRoute(s string, timeout time.Duration, newForwarder func(string, time.Duration) (*Forwarder, error)) (Route, error) {
	glob, target, ok := strings.Cut(s, "=")
	glob = strings.TrimSpace(glob)
	if !ok || glob == "" || strings.TrimSpace(target) == "" {
		return Route{}, fmt.Errorf("bad route %q: write EVENTS=URL, e.g. 'payable.*=http://localhost:3000/payables'", s)
	}
	if _, err := path.Match(glob, ""); err != nil {
		return Route{}, fmt.Errorf("bad route %q: %q is not a glob", s, glob)
	}
	f, err := newForwarder(strings.TrimSpace(target), timeout)
	if err != nil {
		return Route{}, fmt.Errorf("bad route %q: %v", s, err)
	}
	return Route{Events: glob, Forwarder: f}, nil
}

// Pick returns the forwarder of the first route whose glob matches action,
// else def.
func Pick(routes []Route, def *Forwarder, action string) *Forwarder {
	for _, r := range routes {
		if wire.MatchGlob(r.Events, action) { // as --events matches
			return r.Forwarder
		}
	}
	return def
}
