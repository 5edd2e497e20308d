package tui

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"

	"github.com/hooktap/hooktap/inspector/signing"
	"github.com/hooktap/hooktap/inspector/store"
)

// listModel is the list screen: one page of deliveries read from the store
// with Before = top (0: the newest), the selection, the way back up to
// earlier tops, follow mode and how many arrived above a pinned page.
type listModel struct {
	*common
	width, height int

	page     []*store.Delivery
	cursor   int
	selected string // id of the selected delivery
	top      int64
	back     []scroll // how to page back up: earlier tops
	follow   bool
	newer    int // deliveries that arrived above a pinned page

	query      store.Query // the filter applied
	queryText  string      // the text query was parsed from
	webhookURL string      // where to POST, said when the list is empty

	loadWant   int
	loading    bool
	cancelLoad context.CancelFunc
	loadErr    error
}

type scroll struct {
	top   int64
	moved int // rows this step moved
}

type (
	// pageMsg is a page read from the store.
	pageMsg struct {
		gen   int
		top   int64
		query string
		rows  []*store.Delivery
		err   error
	}
	// noteMsg is a line for the status bar.
	noteMsg string
)

func newList(c *common) *listModel {
	return &listModel{common: c, width: 80, height: 21}
}

func note(text string) tea.Cmd {
	return func() tea.Msg { return noteMsg(text) }
}

// SetSize fits the list to width x height cells, its column header
// included; the root reloads the page after.
func (l *listModel) SetSize(width, height int) {
	l.width, l.height = width, height
}

// rows is how many deliveries the list shows at its size.
func (l *listModel) rows() int { return max(l.height-1, 1) }

// Update handles a loaded page and the keys that move through the list.
func (l *listModel) Update(msg tea.Msg) tea.Cmd {
	switch msg := msg.(type) {
	case pageMsg:
		return l.applyPage(msg)
	case tea.KeyMsg:
		return l.onKey(msg)
	}
	return nil
}

func (l *listModel) onKey(msg tea.KeyMsg) tea.Cmd {
	k := l.keys
	switch {
	case key.Matches(msg, k.Down):
		return l.move(1)
	case key.Matches(msg, k.Up):
		return l.move(-1)
	case key.Matches(msg, k.PageDown):
		return l.pageDown()
	case key.Matches(msg, k.PageUp):
		return l.pageUp()
	case key.Matches(msg, k.Top):
		return l.toNewest()
	case key.Matches(msg, k.Follow):
		l.follow = !l.follow
		if l.follow {
			return tea.Batch(note("following new deliveries"), l.toNewest())
		}
		return note("follow off")
	}
	return nil
}

// reload asks for the visible page again. Loads never overlap: a request
// while one runs is served when it ends.
func (l *listModel) reload() tea.Cmd {
	l.loadWant++
	if l.loading {
		return nil
	}
	return l.startLoad()
}

func (l *listModel) startLoad() tea.Cmd {
	l.loading = true
	ctx, cancel := context.WithCancel(l.ctx)
	l.cancelLoad = cancel
	q := l.query
	q.Before, q.Limit = l.top, l.rows()
	gen, top, text, st := l.loadWant, l.top, l.queryText, l.opts.Store
	return func() tea.Msg {
		defer cancel()
		rows, err := st.List(ctx, q)
		for i, d := range rows {
			rows[i] = printable(d)
		}
		return pageMsg{gen: gen, top: top, query: text, rows: rows, err: err}
	}
}

// received counts a delivery that arrived above a pinned page, and shows
// it when the page is the newest.
func (l *listModel) received() tea.Cmd {
	if l.top != 0 {
		l.newer++
	}
	return l.reload()
}

// setQuery applies a filter the filter input parsed, from the newest.
func (l *listModel) setQuery(msg queryMsg) tea.Cmd {
	if msg.text == l.queryText {
		return nil
	}
	l.query, l.queryText = msg.query, msg.text
	if l.cancelLoad != nil {
		l.cancelLoad() // a slow full-text scan for the old filter is moot
	}
	l.top, l.back, l.newer, l.cursor = 0, nil, 0, 0
	l.selected = ""
	return l.reload()
}

// applyPage shows a loaded page, keeping the selection on the same
// delivery, and starts the next load if one was asked for meanwhile.
func (l *listModel) applyPage(msg pageMsg) tea.Cmd {
	l.loading = false
	current := msg.top == l.top && msg.query == l.queryText
	if current && msg.err != nil && !errors.Is(msg.err, context.Canceled) {
		l.loadErr = msg.err
	}
	var cmds []tea.Cmd
	if current && msg.err == nil {
		l.loadErr = nil
		cmds = append(cmds, l.showPage(msg.rows))
	}
	if l.loadWant != msg.gen && !l.loading {
		cmds = append(cmds, l.startLoad())
	}
	return tea.Batch(cmds...)
}

func (l *listModel) showPage(rows []*store.Delivery) tea.Cmd {
	prev, prevCursor := l.page, l.cursor
	l.page = rows
	var cmd tea.Cmd
	switch {
	case l.follow:
		l.cursor = 0
	case l.selected != "":
		if i := indexOf(l.page, l.selected); i >= 0 {
			l.cursor = i
		} else if l.top == 0 && len(prev) > 0 && indexOf(prev, l.selected) >= 0 {
			// New rows pushed the selection off the page: pin the page
			// where it was, so the selection stays put.
			l.page, l.cursor = prev, prevCursor
			l.top = prev[0].Seq + 1
			l.back = append(l.back, scroll{top: 0, moved: 1})
			l.newer = 0
			cmd = l.reload()
		} else {
			l.cursor = min(l.cursor, max(len(l.page)-1, 0))
		}
	default:
		l.cursor = min(l.cursor, max(len(l.page)-1, 0))
	}
	l.selected = ""
	if len(l.page) > 0 {
		l.selected = l.page[l.cursor].ID
	}
	return cmd
}

func indexOf(page []*store.Delivery, id string) int {
	for i, d := range page {
		if d.ID == id {
			return i
		}
	}
	return -1
}

func (l *listModel) selectedDelivery() *store.Delivery {
	if l.cursor >= 0 && l.cursor < len(l.page) {
		return l.page[l.cursor]
	}
	return nil
}

func (l *listModel) move(delta int) tea.Cmd {
	if len(l.page) == 0 {
		return nil
	}
	n := l.cursor + delta
	switch {
	case n < 0:
		if len(l.back) > 0 {
			return l.scrollUp(1)
		}
		return nil
	case n >= len(l.page):
		if len(l.page) < l.rows() {
			return nil // the last page
		}
		// Scroll down one row: show from the second row on.
		l.follow = false
		l.back = append(l.back, scroll{top: l.top, moved: 1})
		l.top = l.page[1%len(l.page)].Seq + 1
		if len(l.page) == 1 {
			l.top = l.page[0].Seq
		}
		l.selected = ""
		l.cursor = len(l.page) - 1
		return l.reload()
	}
	if n != 0 {
		l.follow = false
	}
	l.cursor = n
	l.selected = l.page[n].ID
	return nil
}

func (l *listModel) pageDown() tea.Cmd {
	if len(l.page) < l.rows() || len(l.page) == 0 {
		if len(l.page) > 0 {
			l.cursor = len(l.page) - 1
			l.selected = l.page[l.cursor].ID
		}
		return nil
	}
	l.follow = false
	l.back = append(l.back, scroll{top: l.top, moved: len(l.page)})
	l.top = l.page[len(l.page)-1].Seq
	l.selected = ""
	return l.reload()
}

func (l *listModel) pageUp() tea.Cmd {
	if len(l.back) == 0 {
		l.cursor = 0
		if len(l.page) > 0 {
			l.selected = l.page[0].ID
		}
		return nil
	}
	return l.scrollUp(l.rows())
}

// scrollUp goes back at least n rows through the earlier tops.
func (l *listModel) scrollUp(n int) tea.Cmd {
	moved := 0
	for moved < n && len(l.back) > 0 {
		s := l.back[len(l.back)-1]
		l.back = l.back[:len(l.back)-1]
		l.top = s.top
		moved += s.moved
	}
	l.selected = ""
	if n == 1 {
		l.cursor = 0
	}
	if l.top == 0 {
		l.newer = 0
	}
	return l.reload()
}

func (l *listModel) toNewest() tea.Cmd {
	l.top, l.back, l.newer, l.cursor, l.selected = 0, nil, 0, 0, ""
	return l.reload()
}

// ShortHelp and FullHelp are the list's keys for the help bar.
func (l *listModel) ShortHelp() []key.Binding {
	k := l.keys
	return []key.Binding{k.Open, k.Filter, k.Follow, k.Replay, k.Resend, k.Curl, k.Help, k.Quit}
}

func (l *listModel) FullHelp() [][]key.Binding {
	k := l.keys
	return [][]key.Binding{
		{k.Up, k.Down, k.PageUp, k.PageDown, k.Top},
		{k.Open, k.Filter, k.Back, k.Follow},
		{k.Replay, k.Resend, k.Edit, k.Curl, k.CopyBody},
		{k.Help, k.Quit},
	}
}

// View is the column header and the loaded page, height lines.
func (l *listModel) View() string {
	st := l.styles
	tw := l.timeWidth()
	cols := layoutFor(l.width - (tw - 8))
	cols.time = tw
	head := fmt.Sprintf("  %-*s  %-3s  %-6s %s  %s  %9s  %3s  %s", tw, "TIME", "ST", "METHOD",
		fit("ACTION", cols.action), fit("ENTITY", cols.entity), "DURATION", "ATT", "S")
	if cols.path > 0 {
		head += "  " + "PATH"
	}
	lines := []string{st.Header.Render(fit(head, l.width))}
	n := l.rows()
	switch {
	case l.loadErr != nil:
		lines = append(lines, st.Error.Render(fit("  "+l.loadErr.Error(), l.width)))
	case len(l.page) == 0 && !l.loading && l.loadWant > 0:
		lines = append(lines, st.Dim.Render(fit(l.emptyText(), l.width)))
		if l.queryText == "" && l.webhookURL != "" {
			lines = append(lines, l.tryIt()...)
		}
	}
	for i, d := range l.page {
		if i >= n {
			break
		}
		lines = append(lines, l.row(d, cols, i == l.cursor))
	}
	for len(lines) < n+1 {
		lines = append(lines, "")
	}
	return strings.Join(lines[:n+1], "\n")
}

func (l *listModel) emptyText() string {
	if l.queryText != "" {
		text := "  No deliveries match " + strconv.Quote(l.queryText) + " (esc clears the filter)."
		if hint := store.FilterHint(l.queryText); hint != "" {
			text += "\n  " + hint
		}
		return text
	}
	if l.webhookURL != "" {
		return "  No deliveries yet. Send a test webhook to " + l.webhookURL + ":"
	}
	return "  No deliveries yet."
}

// tryIt is what to paste in a shell to send a first delivery: a curl
// command, and hooktap trigger for a realistic payload. Not dimmed, and
// not cut mid-quote when there is room: it is meant to be copied.
func (l *listModel) tryIt() []string {
	curl, trigger := store.ExampleCurl(l.webhookURL), store.ExampleTrigger(l.opts.Self, l.webhookURL)
	if l.opts.TryIt != nil {
		curl, trigger = l.opts.TryIt(l.webhookURL)
	}
	lines := []string{""}
	for _, line := range strings.Split(curl, "\n") {
		lines = append(lines, fit("    "+line, l.width))
	}
	if trigger != "" {
		lines = append(lines, "", l.styles.Dim.Render(fit("  or a realistic payload (signed when HOOKTAP_SECRET is set):", l.width)),
			"", fit("    "+trigger, l.width))
	}
	return lines
}

// columns are the list's flexible column widths at a window width, and
// the time column's (8, or 12 with a date in it).
type columns struct{ action, entity, path, time int }

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

func (l *listModel) row(d *store.Delivery, cols columns, selected bool) string {
	st := l.styles
	when := l.when(d)
	action := orDefault(d.Action, "-")
	dur := ""
	if d.Attempts > 0 {
		dur = FormatMS(d.DurationMS)
	}
	sig := sigMark(d.Signature)
	path := requestTarget(d)
	att := strconv.Itoa(d.Attempts)
	if d.Elsewhere != nil {
		// Marked at any width; said in full where the path shows.
		att += "↪"
		path += "  last: " + d.Elsewhere.String()
	}
	if selected {
		line := fmt.Sprintf("▸ %-*s  %-3s  %-6s %s  %s  %9s  %3s  %s", cols.time, when, statusText(d), fit(d.Method, 6),
			fit(action, cols.action), fit(d.EntityID, cols.entity), dur, att, sig)
		if cols.path > 0 {
			line += "  " + path
		}
		return st.Selected.Render(fit(line, l.width))
	}
	line := fmt.Sprintf("  %-*s  %s  %-6s %s  %s  %9s  %3s  %s", cols.time, when, st.statusCell(d.Status, d.Attempts > 0), fit(d.Method, 6),
		fit(action, cols.action), st.Dim.Render(fit(d.EntityID, cols.entity)), dur, att, st.sigStyle(d.Signature).Render(sig))
	if cols.path > 0 {
		line += "  " + st.Dim.Render(path)
	}
	return fit(line, l.width)
}

// when is the time of day a delivery came, or its date and time when not
// today ("Nov 28 14:05"; with the year when not this year: "2025-11-28").
func (l *listModel) when(d *store.Delivery) string {
	t := d.ReceivedAt.In(l.opts.Location)
	now := l.now().In(l.opts.Location)
	switch y, m, day := t.Date(); {
	case y != now.Year():
		return t.Format("2006-01-02")
	case m != now.Month() || day != now.Day():
		return t.Format("Jan 02 15:04")
	}
	return t.Format("15:04:05")
}

// timeWidth is the time column's width: wider when a row on the page
// is not from today, so that its date fits beside its time.
func (l *listModel) timeWidth() int {
	w := 8
	for _, d := range l.page {
		w = max(w, len(l.when(d)))
	}
	return w
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
