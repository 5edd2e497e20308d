package forward

import "testing"

// A route's glob takes what --events takes (relay.MatchEvents): '*' goes
// past '/', as in the store's filters.
func TestPickTakesSlashLikeEvents(t *testing.T) {
	def, payables, all := &Forwarder{}, &Forwarder{}, &Forwarder{}
	routes := []Route{{Events: "payable.*", Forwarder: payables}, {Events: "x/*", Forwarder: all}}
	for action, want := range map[string]*Forwarder{
		"payable.created": payables,
		"payable./x":      payables,
		"payable.a/b":     payables,
		"x/y/z":           all,
		"counterpart.new": def,
		"payable":         def,
	} {
		if got := Pick(routes, def, action); got != want {
			t.Errorf("Pick(%q) took the wrong route", action)
		}
	}
}
