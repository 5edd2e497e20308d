package tui

import (
	"strings"

	"github.com/charmbracelet/bubbles/help"
	"github.com/charmbracelet/bubbles/key"
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
	if !h.ShowAll {
		return h.shortView(k.ShortHelp(), width)
	}
	lines := strings.Split(h.View(k), "\n")
	// help's short view overflows when not even its ellipsis fits
	for i, l := range lines {
		lines[i] = ansi.Truncate(l, width, "")
	}
	return strings.Join(lines, "\n")
}

// shortView is the one-line help at width: the screen's last two keys
// (? help, q quit) always show, and the keys before them that fit, in
// order, rather than help's cut at the end with an ellipsis.
func (h helpBar) shortView(keys []key.Binding, width int) string {
	h.Width = 0 // measured here, not cut by help
	tail := keys[max(len(keys)-2, 0):]
	rest := keys[:len(keys)-len(tail)]
	for n := len(rest); n > 0; n-- {
		if v := h.ShortHelpView(append(rest[:n:n], tail...)); ansi.StringWidth(v) <= width {
			return v
		}
	}
	return ansi.Truncate(h.ShortHelpView(tail), width, "")
}
