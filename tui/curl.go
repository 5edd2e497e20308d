package tui

import (
	"strings"

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
	c.vp.SetContent(wrapCommand(c.text, max(c.width, 10)))
}

// wrapCommand fits a shell command (store.CurlCommand's: a line per
// header, continued with " \\") to width for the screen. A line too wide is
// broken between its arguments (an option stays with its value),
// continued with " \\" too, so that what shows can still be copied by
// hand; only an argument wider than the screen is cut, at its edge.
func wrapCommand(cmd string, width int) string {
	var out []string
	for _, l := range strings.Split(cmd, "\n") {
		if ansi.StringWidth(l) <= width {
			out = append(out, l)
			continue
		}
		indent := l[:len(l)-len(strings.TrimLeft(l, " "))]
		cont := strings.HasSuffix(l, " \\")
		var args []string
		for _, arg := range shellArgs(strings.TrimSuffix(strings.TrimSpace(l), " \\")) {
			// An option and its value too wide together, but the value
			// fits alone: a line each.
			if opt, value, ok := strings.Cut(arg, " "); ok && valued(opt) && len(indent)+2+ansi.StringWidth(arg)+2 > width &&
				len(indent)+4+ansi.StringWidth(value)+2 <= width {
				args = append(args, opt, value)
				continue
			}
			args = append(args, arg)
		}
		line := indent
		for i, arg := range args {
			switch {
			case strings.TrimSpace(line) == "":
				line += arg
			case ansi.StringWidth(line)+1+ansi.StringWidth(arg)+2 <= width:
				line += " " + arg
			default:
				out = append(out, line+" \\")
				line = indent + "  " + arg
			}
			if i == len(args)-1 && cont {
				line += " \\"
			}
		}
		out = append(out, line)
	}
	// What is still too wide is one argument (a long body): it goes on
	// where it starts, cut at the screen's edge.
	for i, l := range out {
		if ansi.StringWidth(l) > width {
			out[i] = ansi.Hardwrap(l, width, true)
		}
	}
	return strings.Join(out, "\n")
}

// shellArgs splits one line of a command at the spaces sh splits at
// (outside quotes), and keeps an option with the value after it
// ("-H 'A: b'").
func shellArgs(line string) []string {
	var words []string
	start := 0
	var quote byte // 0, '\'' or '"'
	for i := 0; i < len(line); i++ {
		c := line[i]
		switch {
		case quote == '\'':
			if c == '\'' {
				quote = 0
			}
		case c == '\\':
			i++ // escaped, in double quotes or none
		case quote == '"':
			if c == '"' {
				quote = 0
			}
		case c == '\'' || c == '"':
			quote = c
		case c == ' ':
			if i > start {
				words = append(words, line[start:i])
			}
			start = i + 1
		}
	}
	if start < len(line) {
		words = append(words, line[start:])
	}
	var args []string
	for i := 0; i < len(words); i++ {
		w := words[i]
		if valued(w) && i+1 < len(words) {
			w += " " + words[i+1]
			i++
		}
		args = append(args, w)
	}
	return args
}

// valued reports whether a curl option takes a value (of those
// store.CurlCommand writes).
func valued(opt string) bool {
	switch opt {
	case "-H", "-X", "--url", "--data-binary":
		return true
	}
	return false
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
