package tui

import (
	"github.com/charmbracelet/bubbles/key"
	"github.com/charmbracelet/bubbles/viewport"
	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/x/ansi"
)

// curlModel is the screen c opens: the curl command just copied, to read
// or select by hand when the terminal ignores OSC 52.
type curlModel struct {
	*common
	width int
	text  string
	vp    viewport.Model
}

func newCurl(c *common) *curlModel {
	return &curlModel{common: c, width: 80, vp: viewport.New(80, 10)}
}

// show puts a command up, from its first line.
func (c *curlModel) show(text string) {
	c.text = text
	c.wrap()
	c.vp.GotoTop()
}

func (c *curlModel) wrap() {
	c.vp.SetContent(ansi.Hardwrap(c.text, max(c.width, 10), true))
}

// SetSize fits the command below its title, wrapped at the new width.
func (c *curlModel) SetSize(width, height int) {
	c.width = width
	c.vp.Width, c.vp.Height = width, max(height-1, 1)
	c.wrap()
}

// Update scrolls.
func (c *curlModel) Update(msg tea.Msg) tea.Cmd {
	var cmd tea.Cmd
	c.vp, cmd = c.vp.Update(msg)
	return cmd
}

// View is the title over the command.
func (c *curlModel) View() string {
	st := c.styles
	title := st.Label.Render("Copy as curl") + st.Dim.Render("  (sent to the clipboard with OSC 52; esc to close)")
	return fit(title, c.width) + "\n" + c.vp.View()
}

// ShortHelp and FullHelp are the viewer's keys for the help bar.
func (c *curlModel) ShortHelp() []key.Binding {
	k := c.keys
	return []key.Binding{k.Up, k.Down, k.Close, k.Help, k.Quit}
}

func (c *curlModel) FullHelp() [][]key.Binding {
	k := c.keys
	return [][]key.Binding{{k.Up, k.Down, k.PageUp, k.PageDown}, {k.Close}, {k.Help, k.Quit}}
}
