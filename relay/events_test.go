package relay

import (
	"path/filepath"
	"testing"
)

// A relay's event filter takes what the store's filters list (`events
// list --action`, the inspectors' action:, all SQLite GLOB): a teammate's
// `--events 'payable.*'` missed an action holding '/' that `events list
// --action 'payable.*'` listed (outside test: 177 listed, 175 delivered).
// Patterns here avoid '\', which path.Match takes as an escape and GLOB
// as a character.
func TestEventFilterMatchesAsTheStoreLists(t *testing.T) {
	b, err := OpenBuffer(t.Context(), filepath.Join(t.TempDir(), "relay.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	patterns := []string{"payable.*", "*", "*.created", "payable.?reated", "pay[a-z]ble.*", "payable.[^c]*",
		"payable./*", "*/*", "payable.created", "counterpart.*", "*x"}
	actions := []string{"payable.created", "payable./x", "payable.a/b/c", "/payable.created", "payable/created",
		"counterpart.created", "payable.", "x/y.created", "", "payable.cr/ated", "caf\u00e9.created", "payable.\uFFFDx"}
	for _, p := range patterns {
		for _, a := range actions {
			var glob bool
			if err := b.db.R.QueryRow(`SELECT ? GLOB ?`, a, p).Scan(&glob); err != nil {
				t.Fatal(err)
			}
			if got := MatchEvents([]string{p}, a); got != glob {
				t.Errorf("--events %q on action %q: %v, the store's filter %v", p, a, got, glob)
			}
		}
	}
}
