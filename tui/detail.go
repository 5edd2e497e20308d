package tui

import (
	"github.com/charmbracelet/bubbles/key"
	"github.com/charmbracelet/bubbles/viewport"
	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"
	"github.com/charmbracelet/x/ansi"

	"github.com/hooktap/hooktap/inspector/store"
)

// Detail panes, switched with tab.
const (
	paneRequest = iota
	paneResponse
	paneAttempts
	paneCount
)

var paneNames = [paneCount]string{"Request", "Response", "Attempts"}

// detailModel is the screen for one delivery: its panes in a viewport.
type detailModel struct {
	*common
	width int

	d         *store.Delivery // with headers, body and history
	loadingID string          // the delivery shown or being loaded; "" when closed
	err       error
	pane      int
	vp        viewport.Model
}

// detailMsg is one delivery read from the store.
type detailMsg struct {
	id  string
	d   *store.Delivery
	err error
}

func newDetail(c *common) *detailModel {
	return &detailModel{common: c, width: 80, vp: viewport.New(80, 10)}
}

// open shows delivery id from its request pane, and loads it.
func (v *detailModel) open(id string) tea.Cmd {
	v.d, v.err, v.pane, v.loadingID = nil, nil, paneRequest, id
	v.render(true)
	return v.load(id)
}

// close forgets the delivery: what is still loading for it is dropped.
func (v *detailModel) close() {
	v.d, v.loadingID = nil, ""
}

func (v *detailModel) load(id string) tea.Cmd {
	ctx, st := v.ctx, v.opts.Store
	return func() tea.Msg {
		d, err := st.Get(ctx, id)
		if d != nil {
			d = printable(d)
		}
		return detailMsg{id: id, d: d, err: err}
	}
}

// reloadIfShown reads delivery id again when it is the one shown, so a new
// attempt appears.
func (v *detailModel) reloadIfShown(id string) tea.Cmd {
	if v.d == nil || v.d.ID != id {
		return nil
	}
	return v.load(id)
}

// SetSize fits the panes below the tabs line.
func (v *detailModel) SetSize(width, height int) {
	v.width = width
	v.vp.Width, v.vp.Height = width, max(height-1, 1)
	if v.loadingID != "" {
		v.render(true)
	}
}

// Update shows a loaded delivery, switches panes and scrolls.
func (v *detailModel) Update(msg tea.Msg) tea.Cmd {
	switch msg := msg.(type) {
	case detailMsg:
		if msg.id != v.loadingID {
			return nil // the user moved on
		}
		same := v.d != nil && msg.d != nil && v.d.ID == msg.d.ID
		v.d, v.err = msg.d, msg.err
		v.render(same)
		return nil
	case tea.KeyMsg:
		if key.Matches(msg, v.keys.NextPane) {
			step := 1
			if msg.String() == "shift+tab" {
				step = paneCount - 1
			}
			v.pane = (v.pane + step) % paneCount
			v.render(false)
			return nil
		}
	}
	var cmd tea.Cmd
	v.vp, cmd = v.vp.Update(msg)
	return cmd
}

// render fills the viewport with the current pane.
func (v *detailModel) render(keepOffset bool) {
	off := v.vp.YOffset
	var s string
	switch {
	case v.err != nil:
		s = v.styles.Error.Render(v.err.Error())
	case v.d == nil:
		s = v.styles.Dim.Render("loading…")
	default:
		s = v.paneContent(v.d, v.pane)
	}
	v.vp.SetContent(ansi.Hardwrap(s, max(v.width, 10), true))
	if keepOffset {
		v.vp.SetYOffset(off)
	} else {
		v.vp.GotoTop()
	}
}

// View is the tabs line over the pane.
func (v *detailModel) View() string {
	return v.tabsLine() + "\n" + v.vp.View()
}

func (v *detailModel) tabsLine() string {
	st := v.styles
	var tabs []string
	for i, name := range paneNames {
		if i == v.pane {
			tabs = append(tabs, st.TabActive.Render(name))
		} else {
			tabs = append(tabs, st.Tab.Render(name))
		}
	}
	line := lipgloss.JoinHorizontal(lipgloss.Top, tabs...)
	if d := v.d; d != nil {
		line += "  " + st.Dim.Render(d.ID) + "  " + d.Action
	}
	return fit(line, v.width)
}

// ShortHelp and FullHelp are the detail view's keys for the help bar.
func (v *detailModel) ShortHelp() []key.Binding {
	k := v.keys
	return []key.Binding{k.NextPane, k.Back, k.Replay, k.Resend, k.Edit, k.Curl, k.Help, k.Quit}
}

func (v *detailModel) FullHelp() [][]key.Binding {
	k := v.keys
	return [][]key.Binding{
		{k.Up, k.Down, k.PageUp, k.PageDown},
		{k.NextPane, k.Back},
		{k.Replay, k.Resend, k.Edit, k.Curl, k.CopyBody},
		{k.Help, k.Quit},
	}
}
