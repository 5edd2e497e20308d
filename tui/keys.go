package tui

import "github.com/charmbracelet/bubbles/key"

// keyMap is every key the UI answers; each screen names the ones help
// shows for it (its ShortHelp and FullHelp).
type keyMap struct {
	Up, Down, PageUp, PageDown, Top key.Binding
	Open, Back, NextPane, Close     key.Binding
	Filter, Follow                  key.Binding
	Replay, Resend, Edit            key.Binding
	Curl, CopyBody                  key.Binding
	Help, Quit                      key.Binding
}

func defaultKeys() keyMap {
	return keyMap{
		Up:       key.NewBinding(key.WithKeys("up", "k"), key.WithHelp("↑/k", "up")),
		Down:     key.NewBinding(key.WithKeys("down", "j"), key.WithHelp("↓/j", "down")),
		PageUp:   key.NewBinding(key.WithKeys("pgup", "ctrl+u"), key.WithHelp("pgup", "page up")),
		PageDown: key.NewBinding(key.WithKeys("pgdown", "ctrl+d"), key.WithHelp("pgdn", "page down")),
		Top:      key.NewBinding(key.WithKeys("g", "home"), key.WithHelp("g", "newest")),
		Open:     key.NewBinding(key.WithKeys("enter"), key.WithHelp("enter", "details")),
		Back:     key.NewBinding(key.WithKeys("esc"), key.WithHelp("esc", "back/clear")),
		NextPane: key.NewBinding(key.WithKeys("tab", "shift+tab"), key.WithHelp("tab", "pane")),
		Close:    key.NewBinding(key.WithKeys("esc", "enter"), key.WithHelp("esc", "close")),
		Filter:   key.NewBinding(key.WithKeys("/"), key.WithHelp("/", "filter")),
		Follow:   key.NewBinding(key.WithKeys("f"), key.WithHelp("f", "follow")),
		Replay:   key.NewBinding(key.WithKeys("r"), key.WithHelp("r", "replay")),
		Resend:   key.NewBinding(key.WithKeys("R"), key.WithHelp("R", "resend signed")),
		Edit:     key.NewBinding(key.WithKeys("e"), key.WithHelp("e", "edit+resend")),
		Curl:     key.NewBinding(key.WithKeys("c"), key.WithHelp("c", "copy curl")),
		CopyBody: key.NewBinding(key.WithKeys("y"), key.WithHelp("y", "copy body")),
		Help:     key.NewBinding(key.WithKeys("?"), key.WithHelp("?", "help")),
		Quit:     key.NewBinding(key.WithKeys("q", "ctrl+c"), key.WithHelp("q", "quit")),
	}
}
