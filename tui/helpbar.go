package tui

import (
	"strings"

	"github.com/charmbracelet/bubbles/help"
	"github.com/charmbracelet/x/ansi"
)

// helpBar is the key help under the status line: the short list, or all
// of a screen's keys after ?.
type helpBar struct{ help.Model }

// height is how many lines the help takes for keys k.
func (h helpBar) height(k help.KeyMap) int {
	if !h.ShowAll {
		return 1
	}
	n := 0
	for _, g := range k.FullHelp() {
		n = max(n, len(g))
	}
	return n
}

func (h helpBar) view(k help.KeyMap, width int) string {
	lines := strings.Split(h.View(k), "\n")
	// help's short view overflows when not even its ellipsis fits
	for i, l := range lines {
		lines[i] = ansi.Truncate(l, width, "")
	}
	return strings.Join(lines, "\n")
}
