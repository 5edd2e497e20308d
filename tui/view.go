package tui

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/charmbracelet/lipgloss"
	"github.com/charmbracelet/x/ansi"

	"github.com/hooktap/hooktap/inspector/live"
	"github.com/hooktap/hooktap/inspector/signing"
	"github.com/hooktap/hooktap/inspector/store"
)

// View renders what Update loaded; it never reads the store.
func (m *Model) View() string {
	var body string
	switch m.screen {
	case screenDetail:
		body = m.tabsLine() + "\n" + m.detail.vp.View()
	case screenText:
		body = m.styles.Label.Render("Copy as curl") + m.styles.Dim.Render("  (sent to the clipboard with OSC 52; esc to close)") + "\n" + m.text.View()
	default:
		body = m.listView()
	}
	var helpView string
	if m.screen == screenDetail {
		helpView = m.help.View(detailHelp{m.keys})
	} else {
		helpView = m.help.View(listHelp{m.keys})
	}
	// help's short view overflows when not even its ellipsis fits
	helpLines := strings.Split(helpView, "\n")
	for i, l := range helpLines {
		helpLines[i] = ansi.Truncate(l, m.width, "")
	}
	return strings.Join([]string{m.titleBar(), body, m.statusLine(), strings.Join(helpLines, "\n")}, "\n")
}

// fit truncates s to w cells and pads it to exactly w.
func fit(s string, w int) string {
	if w <= 0 {
		return ""
	}
	s = ansi.Truncate(s, w, "…")
	if n := ansi.StringWidth(s); n < w {
		s += strings.Repeat(" ", w-n)
	}
	return s
}

func fitRight(s string, w int) string {
	s = ansi.Truncate(s, w, "…")
	if n := ansi.StringWidth(s); n < w {
		s = strings.Repeat(" ", w-n) + s
	}
	return s
}

func (m *Model) titleBar() string {
	st := m.styles
	parts := []string{st.Title.Render("hooktap")}
	if m.opts.Bus == nil {
		parts = append(parts, st.Dim.Render("history"), orDefault(m.opts.Source, m.opts.Store.Path()))
	} else {
		parts = append(parts, m.connText())
		if m.conn.URL != "" {
			parts = append(parts, m.conn.URL)
		}
		if m.conn.Target != "" {
			parts = append(parts, "→ "+m.conn.Target)
		}
		if m.opts.WebURL != "" {
			parts = append(parts, st.Dim.Render("web "+m.opts.WebURL))
		}
	}
	return fit(strings.Join(parts, "  "), m.width)
}

func (m *Model) connText() string {
	st := m.styles
	switch m.conn.State {
	case live.StateConnected:
		return st.Connected.Render("● connected")
	case live.StateReconnecting:
		s := "◌ reconnecting"
		if wait := m.conn.RetryAt.Sub(m.opts.now()); wait > 0 {
			s += fmt.Sprintf(" in %ds", int((wait+time.Second-1)/time.Second))
		}
		return st.Waiting.Render(s)
	case live.StateConnecting, "":
		return st.Waiting.Render("◌ connecting")
	}
	return st.Offline.Render("○ offline")
}

// columns are the list's flexible column widths at a window width.
type columns struct{ action, entity, path int }

func layoutFor(width int) columns {
	// marker 2, time 8, status 3, method 6, duration 9, attempts 3,
	// signature 1 and the gaps take 45 cells; the rest goes to the action,
	// the entity id and, when wide, the path.
	avail := width - 45
	var c columns
	c.action = min(max(avail-8, 6), 28)
	c.entity = min(max(avail-c.action, 8), 36)
	rest := avail - c.action - c.entity
	if rest > 0 {
		grow := min(rest, 12)
		c.action += grow
		rest -= grow
	}
	if rest-2 >= 8 {
		c.path = rest - 2
	}
	return c
}

func (m *Model) listView() string {
	st := m.styles
	cols := layoutFor(m.width)
	head := fmt.Sprintf("  %-8s  %-3s  %-6s %s  %s  %9s  %3s  %s", "TIME", "ST", "METHOD",
		fit("ACTION", cols.action), fit("ENTITY", cols.entity), "DURATION", "ATT", "S")
	if cols.path > 0 {
		head += "  " + "PATH"
	}
	lines := []string{st.Header.Render(fit(head, m.width))}
	n := m.rows()
	switch {
	case m.loadErr != nil:
		lines = append(lines, st.Error.Render(fit("  "+m.loadErr.Error(), m.width)))
	case len(m.page) == 0 && !m.loading && m.loadWant > 0:
		msg := "  No deliveries yet."
		if m.conn.URL != "" {
			msg += " POST a webhook to " + m.conn.URL
		}
		if m.applied != "" {
			msg = "  No deliveries match " + strconv.Quote(m.applied) + " (esc clears the filter)."
		}
		lines = append(lines, st.Dim.Render(fit(msg, m.width)))
	}
	for i, d := range m.page {
		if i >= n {
			break
		}
		lines = append(lines, m.row(d, cols, i == m.cursor))
	}
	for len(lines) < n+1 {
		lines = append(lines, "")
	}
	return strings.Join(lines[:n+1], "\n")
}

func (m *Model) row(d *store.Delivery, cols columns, selected bool) string {
	st := m.styles
	t := d.ReceivedAt.In(m.opts.Location)
	now := m.opts.now().In(m.opts.Location)
	when := t.Format("15:04:05")
	if y1, m1, d1 := t.Date(); y1 != now.Year() || m1 != now.Month() || d1 != now.Day() {
		when = t.Format("Jan 02")
	}
	action := d.Action
	if action == "" {
		action = "-"
	}
	dur := ""
	if d.Attempts > 0 {
		dur = fmtMS(d.DurationMS)
	}
	sig, sigStyle := sigMark(d.Signature), st.Dim
	switch d.Signature {
	case signing.Valid:
		sigStyle = st.SigValid
	case signing.Invalid, signing.Expired:
		sigStyle = st.SigBad
	}
	path := d.Path
	if path == "" {
		path = "/"
	}
	if d.Query != "" {
		path += "?" + d.Query
	}
	if selected {
		line := fmt.Sprintf("▸ %-8s  %-3s  %-6s %s  %s  %9s  %3d  %s", when, statusText(d), fit(d.Method, 6),
			fit(action, cols.action), fit(d.EntityID, cols.entity), dur, d.Attempts, sig)
		if cols.path > 0 {
			line += "  " + path
		}
		return st.Selected.Render(fit(line, m.width))
	}
	line := fmt.Sprintf("  %-8s  %s  %-6s %s  %s  %9s  %3d  %s", when, m.statusCell(d.Status, d.Attempts > 0), fit(d.Method, 6),
		fit(action, cols.action), st.Dim.Render(fit(d.EntityID, cols.entity)), dur, d.Attempts, sigStyle.Render(sig))
	if cols.path > 0 {
		line += "  " + st.Dim.Render(path)
	}
	return fit(line, m.width)
}

func statusText(d *store.Delivery) string {
	switch {
	case d.Attempts == 0:
		return "…"
	case d.Status == 0:
		return "ERR"
	}
	return strconv.Itoa(d.Status)
}

// statusCell is a 3-cell status coloured by class.
func (m *Model) statusCell(status int, answered bool) string {
	st := m.styles
	switch {
	case !answered:
		return st.Dim.Render("…  ")
	case status == 0:
		return st.StatusErr.Render("ERR")
	case status < 300:
		return st.Status2xx.Render(strconv.Itoa(status))
	case status < 400:
		return st.Status3xx.Render(strconv.Itoa(status))
	case status < 500:
		return st.Status4xx.Render(strconv.Itoa(status))
	}
	return st.Status5xx.Render(fmt.Sprintf("%3d", status))
}

func sigMark(s signing.State) string {
	switch s {
	case signing.Valid:
		return "✓"
	case signing.Invalid, signing.Expired:
		return "✗"
	case signing.NoSecret:
		return "?"
	}
	return "·"
}

func fmtMS(ms float64) string {
	if ms >= 1000 {
		return fmt.Sprintf("%.2fs", ms/1000)
	}
	return fmt.Sprintf("%.1fms", ms)
}

func (m *Model) tabsLine() string {
	st := m.styles
	var tabs []string
	for i, name := range paneNames {
		if i == m.detail.pane {
			tabs = append(tabs, st.TabActive.Render(name))
		} else {
			tabs = append(tabs, st.Tab.Render(name))
		}
	}
	line := lipgloss.JoinHorizontal(lipgloss.Top, tabs...)
	if d := m.detail.d; d != nil {
		line += "  " + st.Dim.Render(d.ID) + "  " + d.Action
	}
	return fit(line, m.width)
}

// statusLine is the filter being typed, else a store that cannot write,
// else the last message; and on the right the counts, the rate and the
// follow mode.
func (m *Model) statusLine() string {
	st := m.styles
	var right []string
	if m.newer > 0 {
		right = append(right, st.Message.Render(fmt.Sprintf("▲ %d new (g)", m.newer)))
	}
	right = append(right, comma(m.count)+" deliveries")
	if m.opts.Bus != nil {
		right = append(right, fmt.Sprintf("%d/min", len(m.arrivals)))
	}
	if m.follow {
		right = append(right, st.Connected.Render("FOLLOW"))
	}
	r := strings.Join(right, " · ")
	var left string
	switch {
	case m.filtering:
		left = st.Label.Render("/") + m.filter + "█"
		if m.filterErr != "" {
			left += "  " + st.Error.Render(m.filterErr)
		}
	case m.store.Failing():
		noun := "deliveries"
		if m.store.Waiting == 1 {
			noun = "delivery"
		}
		left = st.Error.Render(fmt.Sprintf("store: cannot write (%s) — %d %s waiting; retrying", m.store.Cause(), m.store.Waiting, noun))
	case m.filterErr != "":
		left = st.Error.Render(m.filterErr)
	case m.message != "":
		if m.messageErr {
			left = st.Error.Render(m.message)
		} else {
			left = st.Message.Render(m.message)
		}
	case m.applied != "":
		left = st.Dim.Render("filter: ") + m.applied
	}
	space := m.width - ansi.StringWidth(r) - 1
	if space < 10 {
		return fit(left, m.width)
	}
	return fit(left, space) + " " + r
}

func comma(n int64) string {
	s := strconv.FormatInt(n, 10)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}
