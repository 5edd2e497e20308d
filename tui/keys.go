package tui

import "github.com/charmbracelet/bubbles/key"

// keyMap is every key the UI answers; help renders it.
type keyMap struct {
	Up, Down, PageUp, PageDown, Top key.Binding
	Open, Back, NextPane            key.Binding
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

// listHelp and detailHelp are the key maps help shows on each screen.
type listHelp struct{ k keyMap }

func (h listHelp) ShortHelp() []key.Binding {
	return []key.Binding{h.k.Open, h.k.Filter, h.k.Follow, h.k.Replay, h.k.Resend, h.k.Curl, h.k.Help, h.k.Quit}
}

func (h listHelp) FullHelp() [][]key.Binding {
	return [][]key.Binding{
		{h.k.Up, h.k.Down, h.k.PageUp, h.k.PageDown, h.k.Top},
		{h.k.Open, h.k.Filter, h.k.Back, h.k.Follow},
		{h.k.Replay, h.k.Resend, h.k.Edit, h.k.Curl, h.k.CopyBody},
		{h.k.Help, h.k.Quit},
	}
}

type detailHelp struct{ k keyMap }

func (h detailHelp) ShortHelp() []key.Binding {
	return []key.Binding{h.k.NextPane, h.k.Back, h.k.Replay, h.k.Resend, h.k.Edit, h.k.Curl, h.k.Help, h.k.Quit}
}

func (h detailHelp) FullHelp() [][]key.Binding {
	return [][]key.Binding{
		{h.k.Up, h.k.Down, h.k.PageUp, h.k.PageDown},
		{h.k.NextPane, h.k.Back},
		{h.k.Replay, h.k.Resend, h.k.Edit, h.k.Curl, h.k.CopyBody},
		{h.k.Help, h.k.Quit},
	}
}
