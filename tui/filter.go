package tui

import (
	"time"

	tea "github.com/charmbracelet/bubbletea"

	"github.com/hooktap/hooktap/inspector/store"
)

// filterModel is the filter input on the status line, opened with /. It
// parses what is typed, live once typing pauses, and hands each good
// filter to the list as a queryMsg; a bad one keeps the last good filter
// and says why.
type filterModel struct {
	*common
	text   string // what is typed
	typing bool
	gen    int // the keystroke a debounce tick belongs to
	err    string
}

type (
	// filterMsg is the end of a pause in typing.
	filterMsg struct{ gen int }
	// queryMsg is a filter parsed for the list.
	queryMsg struct {
		query store.Query
		text  string
	}
)

// Update edits the filter text while typing, and applies it when typing
// pauses, on enter, or cleared on esc.
func (f *filterModel) Update(msg tea.Msg) tea.Cmd {
	switch msg := msg.(type) {
	case filterMsg:
		if msg.gen != f.gen {
			return nil // typing went on
		}
		return f.apply()
	case tea.KeyMsg:
		return f.onKey(msg)
	}
	return nil
}

func (f *filterModel) onKey(msg tea.KeyMsg) tea.Cmd {
	switch msg.Type {
	case tea.KeyEsc:
		f.typing = false
		return f.clear()
	case tea.KeyEnter:
		f.typing = false
		return f.apply()
	case tea.KeyBackspace:
		if r := []rune(f.text); len(r) > 0 {
			f.text = string(r[:len(r)-1])
		}
	case tea.KeyCtrlU:
		f.text = ""
	case tea.KeyCtrlC:
		return tea.Quit
	case tea.KeySpace:
		f.text += " "
	case tea.KeyRunes:
		f.text += string(msg.Runes)
	default:
		return nil
	}
	// Live as you type, once typing pauses for a moment.
	f.gen++
	gen := f.gen
	return tea.Tick(150*time.Millisecond, func(time.Time) tea.Msg { return filterMsg{gen} })
}

// clear empties the filter and shows every delivery again.
func (f *filterModel) clear() tea.Cmd {
	f.text = ""
	return f.apply()
}

// apply parses the filter text for the list.
func (f *filterModel) apply() tea.Cmd {
	q, err := store.ParseFilter(f.text, f.now())
	if err != nil {
		f.err = err.Error()
		return nil
	}
	f.err = ""
	text := f.text
	return func() tea.Msg { return queryMsg{query: q, text: text} }
}

// View is the filter being typed, with what is wrong with it.
func (f *filterModel) View() string {
	st := f.styles
	s := st.Label.Render("/") + f.text + "█"
	if f.err != "" {
		s += "  " + st.Error.Render(f.err)
	} else if hint := store.FilterHint(f.text); hint != "" {
		s += "  " + st.Message.Render(hint)
	}
	return s
}
