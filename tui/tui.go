// Package tui is hooktap's terminal UI: a live list of deliveries paged
// from the store, a detail view, a filter, and replay/resend actions.
//
// All IO happens in tea.Cmds; View renders only what Update loaded.
package tui

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/charmbracelet/bubbles/help"
	"github.com/charmbracelet/bubbles/key"
	"github.com/charmbracelet/bubbles/viewport"
	tea "github.com/charmbracelet/bubbletea"

	"github.com/hooktap/hooktap/inspector/live"
	"github.com/hooktap/hooktap/inspector/replay"
	"github.com/hooktap/hooktap/inspector/store"
)

// Options configure the UI.
type Options struct {
	Store  *store.Store   // required
	Bus    *live.Bus      // live events; nil when browsing history only
	Sender *replay.Sender // replay and resend; built from Store, Bus and Secret when nil
	Secret string         // signing secret for resends when Sender is nil

	Source    string         // what the title names when browsing history; the store's path when empty
	WebURL    string         // the web inspector beside the UI, shown in the title
	Editor    string         // command for editing a body ("vi" when empty)
	Clipboard io.Writer      // where OSC 52 clipboard sequences go; Run uses its output
	Tmux      bool           // wrap OSC 52 for tmux
	Location  *time.Location // times are shown in it; time.Local when nil
	Now       func() time.Time
}

func (o *Options) now() time.Time {
	if o.Now != nil {
		return o.Now()
	}
	return time.Now()
}

type screen int

const (
	screenList screen = iota
	screenDetail
	screenText
)

// Model is the root of the terminal UI. It implements tea.Model.
type Model struct {
	ctx    context.Context
	opts   Options
	sender *replay.Sender
	keys   keyMap
	styles Styles
	help   help.Model

	width, height int
	screen        screen

	events <-chan live.Event
	unsub  func()
	conn   live.RelayStatus
	store  live.StoreHealth // the agent's store: failing while it cannot write

	// The list: one page of rows read with Before = top (0: the newest).
	page     []*store.Delivery
	cursor   int
	selected string // id of the selected delivery
	top      int64
	back     []scroll // how to page back up: earlier tops
	follow   bool
	newer    int // deliveries that arrived above a pinned page

	filter     string // the text being typed or applied
	filtering  bool   // typing in the filter line
	filterGen  int
	query      store.Query // parsed filter
	applied    string      // the filter text query comes from
	filterErr  string
	loadWant   int
	loading    bool
	cancelLoad context.CancelFunc
	loadErr    error

	count      int64
	counting   bool
	arrivals   []time.Time // receipt times over the last minute
	message    string
	messageErr bool

	detail detail
	text   viewport.Model // the curl command, shown after c
}

type scroll struct {
	top   int64
	moved int // rows this step moved
}

// New returns the UI over opts.Store. Call Close when done with it when
// opts.Bus is set (Run does).
func New(opts Options) *Model {
	return newModel(context.Background(), opts)
}

func newModel(ctx context.Context, opts Options) *Model {
	if opts.Location == nil {
		opts.Location = time.Local
	}
	m := &Model{
		ctx:    ctx,
		opts:   opts,
		sender: opts.Sender,
		keys:   defaultKeys(),
		styles: DefaultStyles(),
		help:   help.New(),
		width:  80,
		height: 24,
		unsub:  func() {},
	}
	if m.sender == nil {
		m.sender = &replay.Sender{Store: opts.Store, Bus: opts.Bus, Secret: opts.Secret}
	}
	if opts.Bus != nil {
		m.events, m.unsub = opts.Bus.Subscribe(256)
	} else {
		m.conn.State = "" // history only
	}
	m.detail.vp = viewport.New(80, 10)
	m.text = viewport.New(80, 10)
	return m
}

// Close ends the model's bus subscription.
func (m *Model) Close() { m.unsub() }

// Run shows the UI on out, reading keys from in, until the user quits or
// ctx ends. It uses the alternate screen and restores the terminal.
func Run(ctx context.Context, opts Options, in io.Reader, out io.Writer) error {
	if opts.Clipboard == nil {
		opts.Clipboard = out
	}
	m := newModel(ctx, opts)
	defer m.Close()
	p := tea.NewProgram(m, tea.WithContext(ctx), tea.WithInput(in), tea.WithOutput(out), tea.WithAltScreen())
	_, err := p.Run()
	if errors.Is(err, tea.ErrProgramKilled) && ctx.Err() != nil {
		return nil // ended from outside: not a failure
	}
	return err
}

// Messages.
type (
	pageMsg struct {
		gen   int
		top   int64
		query string
		rows  []*store.Delivery
		err   error
	}
	countMsg struct {
		n   int64
		err error
	}
	busMsg    struct{ ev live.Event }
	tickMsg   time.Time
	filterMsg struct{ gen int }
)

// Init starts the first load, the bus reader and the clock.
func (m *Model) Init() tea.Cmd {
	return tea.Batch(m.reload(), m.countCmd(), m.waitEvent(), tick())
}

func tick() tea.Cmd {
	return tea.Tick(time.Second, func(t time.Time) tea.Msg { return tickMsg(t) })
}

// rows is how many deliveries the list shows at the current size.
func (m *Model) rows() int {
	// title, column header, status line and help around the rows
	return max(m.height-3-m.helpHeight(), 1)
}

func (m *Model) helpHeight() int {
	if !m.help.ShowAll {
		return 1
	}
	h := 0
	if m.screen == screenDetail {
		for _, g := range (detailHelp{m.keys}).FullHelp() {
			h = max(h, len(g))
		}
	} else {
		for _, g := range (listHelp{m.keys}).FullHelp() {
			h = max(h, len(g))
		}
	}
	return h
}

// reload asks for the visible page again. Loads never overlap: a request
// while one runs is served when it ends.
func (m *Model) reload() tea.Cmd {
	m.loadWant++
	if m.loading {
		return nil
	}
	return m.startLoad()
}

func (m *Model) startLoad() tea.Cmd {
	m.loading = true
	ctx, cancel := context.WithCancel(m.ctx)
	m.cancelLoad = cancel
	q := m.query
	q.Before, q.Limit = m.top, m.rows()
	gen, top, applied, st := m.loadWant, m.top, m.applied, m.opts.Store
	return func() tea.Msg {
		defer cancel()
		rows, err := st.List(ctx, q)
		return pageMsg{gen: gen, top: top, query: applied, rows: rows, err: err}
	}
}

func (m *Model) countCmd() tea.Cmd {
	if m.counting {
		return nil
	}
	m.counting = true
	ctx, st := m.ctx, m.opts.Store
	return func() tea.Msg {
		n, err := st.Count(ctx)
		return countMsg{n, err}
	}
}

func (m *Model) waitEvent() tea.Cmd {
	if m.events == nil {
		return nil
	}
	ch, ctx := m.events, m.ctx
	return func() tea.Msg {
		select {
		case ev := <-ch:
			return busMsg{ev}
		case <-ctx.Done():
			return nil
		}
	}
}

// Update handles one message.
func (m *Model) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	switch msg := msg.(type) {
	case tea.WindowSizeMsg:
		m.width, m.height = msg.Width, msg.Height
		m.help.Width = msg.Width
		m.resizePanes()
		return m, m.reload()
	case pageMsg:
		return m, m.applyPage(msg)
	case countMsg:
		m.counting = false
		if msg.err == nil {
			m.count = msg.n
		}
		return m, nil
	case busMsg:
		return m, tea.Batch(m.onEvent(msg.ev), m.waitEvent())
	case tickMsg:
		cut := time.Time(msg).Add(-time.Minute)
		for len(m.arrivals) > 0 && m.arrivals[0].Before(cut) {
			m.arrivals = m.arrivals[1:]
		}
		return m, tea.Batch(tick(), m.countCmd())
	case filterMsg:
		if msg.gen != m.filterGen {
			return m, nil
		}
		return m, m.applyFilter()
	case detailMsg:
		return m, m.onDetail(msg)
	case actionMsg:
		return m, m.onAction(msg)
	case editMsg:
		return m, m.onEdit(msg)
	case copiedMsg:
		return m, m.onCopied(msg)
	case tea.KeyMsg:
		return m, m.onKey(msg)
	}
	if m.screen == screenDetail {
		var cmd tea.Cmd
		m.detail.vp, cmd = m.detail.vp.Update(msg)
		return m, cmd
	}
	return m, nil
}

func (m *Model) onEvent(ev live.Event) tea.Cmd {
	switch ev.Kind {
	case live.EventRelay:
		m.conn = ev.Relay
		return nil
	case live.EventStore:
		m.store = ev.Store
		return nil
	case live.EventReceived:
		m.arrivals = append(m.arrivals, m.opts.now())
		m.count++ // exact again at the next tick
		if m.top != 0 {
			m.newer++
		}
		return m.reload()
	case live.EventAttempt:
		cmds := []tea.Cmd{m.reload()}
		if m.screen == screenDetail && m.detail.d != nil && ev.Delivery != nil && ev.Delivery.ID == m.detail.d.ID {
			cmds = append(cmds, m.loadDetail(m.detail.d.ID))
		}
		return tea.Batch(cmds...)
	}
	return nil
}

// applyPage shows a loaded page, keeping the selection on the same
// delivery, and starts the next load if one was asked for meanwhile.
func (m *Model) applyPage(msg pageMsg) tea.Cmd {
	m.loading = false
	current := msg.top == m.top && msg.query == m.applied
	if current && msg.err != nil && !errors.Is(msg.err, context.Canceled) {
		m.loadErr = msg.err
	}
	var cmds []tea.Cmd
	if current && msg.err == nil {
		m.loadErr = nil
		prev, prevCursor := m.page, m.cursor
		m.page = msg.rows
		switch {
		case m.follow:
			m.cursor = 0
		case m.selected != "":
			if i := indexOf(m.page, m.selected); i >= 0 {
				m.cursor = i
			} else if m.top == 0 && len(prev) > 0 && indexOf(prev, m.selected) >= 0 {
				// New rows pushed the selection off the page: pin the
				// page where it was, so the selection stays put.
				m.page, m.cursor = prev, prevCursor
				m.top = prev[0].Seq + 1
				m.back = append(m.back, scroll{top: 0, moved: 1})
				m.newer = 0
				cmds = append(cmds, m.reload())
			} else {
				m.cursor = min(m.cursor, max(len(m.page)-1, 0))
			}
		default:
			m.cursor = min(m.cursor, max(len(m.page)-1, 0))
		}
		if len(m.page) > 0 {
			m.selected = m.page[m.cursor].ID
		} else {
			m.selected = ""
		}
	}
	if m.loadWant != msg.gen && !m.loading {
		cmds = append(cmds, m.startLoad())
	}
	return tea.Batch(cmds...)
}

func indexOf(page []*store.Delivery, id string) int {
	for i, d := range page {
		if d.ID == id {
			return i
		}
	}
	return -1
}

func (m *Model) selectedDelivery() *store.Delivery {
	if m.cursor >= 0 && m.cursor < len(m.page) {
		return m.page[m.cursor]
	}
	return nil
}

func (m *Model) say(text string, err error) {
	if err != nil {
		m.message, m.messageErr = err.Error(), true
		return
	}
	m.message, m.messageErr = text, false
}

func (m *Model) onKey(msg tea.KeyMsg) tea.Cmd {
	if m.filtering {
		return m.onFilterKey(msg)
	}
	k := m.keys
	switch {
	case msg.String() == "ctrl+c":
		return tea.Quit
	case key.Matches(msg, k.Help):
		m.help.ShowAll = !m.help.ShowAll
		m.resizePanes()
		return m.reload()
	}
	switch m.screen {
	case screenDetail:
		return m.onDetailKey(msg)
	case screenText:
		switch {
		case key.Matches(msg, k.Back), msg.String() == "enter":
			m.screen = screenList
			if m.detail.d != nil {
				m.screen = screenDetail
			}
			return nil
		case key.Matches(msg, k.Quit):
			return tea.Quit
		}
		var cmd tea.Cmd
		m.text, cmd = m.text.Update(msg)
		return cmd
	}
	switch {
	case key.Matches(msg, k.Quit):
		return tea.Quit
	case key.Matches(msg, k.Down):
		return m.move(1)
	case key.Matches(msg, k.Up):
		return m.move(-1)
	case key.Matches(msg, k.PageDown):
		return m.pageDown()
	case key.Matches(msg, k.PageUp):
		return m.pageUp()
	case key.Matches(msg, k.Top):
		return m.toNewest()
	case key.Matches(msg, k.Follow):
		m.follow = !m.follow
		if m.follow {
			m.say("following new deliveries", nil)
			return m.toNewest()
		}
		m.say("follow off", nil)
		return nil
	case key.Matches(msg, k.Filter):
		m.filtering, m.message = true, ""
		return nil
	case key.Matches(msg, k.Back):
		if m.applied != "" || m.filter != "" {
			m.filter = ""
			return m.applyFilter()
		}
		m.message = ""
		return nil
	case key.Matches(msg, k.Open):
		if d := m.selectedDelivery(); d != nil {
			m.screen = screenDetail
			m.detail = detail{vp: m.detail.vp, loadingID: d.ID}
			m.resizePanes()
			return m.loadDetail(d.ID)
		}
		return nil
	}
	return m.actionKey(msg, m.selectedDelivery())
}

func (m *Model) onFilterKey(msg tea.KeyMsg) tea.Cmd {
	switch msg.Type {
	case tea.KeyEsc:
		m.filtering = false
		m.filter = ""
		return m.applyFilter()
	case tea.KeyEnter:
		m.filtering = false
		return m.applyFilter()
	case tea.KeyBackspace:
		if r := []rune(m.filter); len(r) > 0 {
			m.filter = string(r[:len(r)-1])
		}
	case tea.KeyCtrlU:
		m.filter = ""
	case tea.KeyCtrlC:
		return tea.Quit
	case tea.KeySpace:
		m.filter += " "
	case tea.KeyRunes:
		m.filter += string(msg.Runes)
	default:
		return nil
	}
	// Live as you type, once typing pauses for a moment.
	m.filterGen++
	gen := m.filterGen
	return tea.Tick(150*time.Millisecond, func(time.Time) tea.Msg { return filterMsg{gen} })
}

// applyFilter parses the filter text and reloads from the newest.
func (m *Model) applyFilter() tea.Cmd {
	q, err := store.ParseFilter(m.filter, m.opts.now())
	if err != nil {
		m.filterErr = err.Error()
		return nil
	}
	m.filterErr = ""
	if m.filter == m.applied {
		return nil
	}
	m.query, m.applied = q, m.filter
	if m.cancelLoad != nil {
		m.cancelLoad() // a slow full-text scan for the old filter is moot
	}
	m.top, m.back, m.newer, m.cursor = 0, nil, 0, 0
	m.selected = ""
	return m.reload()
}

func (m *Model) move(delta int) tea.Cmd {
	if len(m.page) == 0 {
		return nil
	}
	n := m.cursor + delta
	switch {
	case n < 0:
		if len(m.back) > 0 {
			return m.scrollUp(1)
		}
		return nil
	case n >= len(m.page):
		if len(m.page) < m.rows() {
			return nil // the last page
		}
		// Scroll down one row: show from the second row on.
		m.follow = false
		m.back = append(m.back, scroll{top: m.top, moved: 1})
		m.top = m.page[1%len(m.page)].Seq + 1
		if len(m.page) == 1 {
			m.top = m.page[0].Seq
		}
		m.selected = ""
		m.cursor = len(m.page) - 1
		return m.reload()
	}
	if n != 0 {
		m.follow = false
	}
	m.cursor = n
	m.selected = m.page[n].ID
	return nil
}

func (m *Model) pageDown() tea.Cmd {
	if len(m.page) < m.rows() || len(m.page) == 0 {
		if len(m.page) > 0 {
			m.cursor = len(m.page) - 1
			m.selected = m.page[m.cursor].ID
		}
		return nil
	}
	m.follow = false
	m.back = append(m.back, scroll{top: m.top, moved: len(m.page)})
	m.top = m.page[len(m.page)-1].Seq
	m.selected = ""
	return m.reload()
}

func (m *Model) pageUp() tea.Cmd {
	if len(m.back) == 0 {
		m.cursor = 0
		if len(m.page) > 0 {
			m.selected = m.page[0].ID
		}
		return nil
	}
	return m.scrollUp(m.rows())
}

// scrollUp goes back at least n rows through the earlier tops.
func (m *Model) scrollUp(n int) tea.Cmd {
	moved := 0
	for moved < n && len(m.back) > 0 {
		s := m.back[len(m.back)-1]
		m.back = m.back[:len(m.back)-1]
		m.top = s.top
		moved += s.moved
	}
	m.selected = ""
	if n == 1 {
		m.cursor = 0
	}
	if m.top == 0 {
		m.newer = 0
	}
	return m.reload()
}

func (m *Model) toNewest() tea.Cmd {
	m.top, m.back, m.newer, m.cursor, m.selected = 0, nil, 0, 0, ""
	return m.reload()
}

// String is the message shown for an error-free, finished attempt.
func attemptText(what string, a *store.Attempt) string {
	if a == nil {
		return what
	}
	if a.Status == 0 {
		return fmt.Sprintf("%s: no answer (%s) after %s", what, a.Error, fmtMS(a.DurationMS()))
	}
	return fmt.Sprintf("%s: %d in %s", what, a.Status, fmtMS(a.DurationMS()))
}
