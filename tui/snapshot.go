package tui

import (
	"context"
	"fmt"

	tea "github.com/charmbracelet/bubbletea"
)

// Render loads what the UI shows at width x height - the newest page of
// the list, or with id the detail view of that delivery - exactly as the
// running UI does (through its commands), and returns the screen. It is
// what a benchmark times: what a key press costs, one page (or one
// delivery) read from the store plus one render. The status bar's count is
// left at 0: the UI refreshes it once a second, off the key path.
func Render(ctx context.Context, opts Options, width, height int, id string) (string, error) {
	m := newModel(ctx, Options{Store: opts.Store, Location: opts.Location, Now: opts.Now})
	defer m.Close()
	_, load := m.Update(tea.WindowSizeMsg{Width: width, Height: height})
	msg := load()
	m.Update(msg)
	if p := msg.(pageMsg); p.err != nil {
		return "", fmt.Errorf("load page: %w", p.err)
	}
	if id != "" {
		m.show(screenDetail)
		dm := m.detail.open(id)()
		m.Update(dm)
		if err := dm.(detailMsg).err; err != nil {
			return "", fmt.Errorf("load delivery: %w", err)
		}
	}
	return m.View(), nil
}
