package tui

import (
	"context"
	"strings"
	"time"

	"github.com/charmbracelet/bubbles/help"
	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"

	"github.com/hooktap/hooktap/inspector/live"
	"github.com/hooktap/hooktap/inspector/replay"
	"github.com/hooktap/hooktap/inspector/store"
)

// screen is what fills the window between the title and the status line.
type screen int

const (
	screenList screen = iota
	screenDetail
	screenCurl
)

// component is one screen's model (soft-serve's common.Component): it
// answers its messages, fits the size the root gives it and names the keys
// help shows for it.
type component interface {
	Update(tea.Msg) tea.Cmd
	View() string
	SetSize(width, height int)
	help.KeyMap
}

var (
	_ component = (*listModel)(nil)
	_ component = (*detailModel)(nil)
	_ component = (*curlModel)(nil)
)

// Model is the root of the terminal UI. It implements tea.Model.
type Model struct {
	*common
	sender *replay.Sender

	width, height int
	screen        screen
	help          helpBar
	status        statusBar

	list   *listModel
	filter *filterModel
	detail *detailModel
	curl   *curlModel

	events <-chan live.Event
	unsub  func()

	// quitting: the user quit while deliveries were in flight, and the UI
	// waits for the agent to finish them (inFlight, counted each second);
	// forced: the user quit again, not waiting.
	quitting, forced bool
	inFlight         int
}

// stoppedMsg says that the agent finished what it had in flight.
type stoppedMsg struct{}

func newModel(ctx context.Context, opts Options) *Model {
	if opts.Location == nil {
		opts.Location = time.Local
	}
	c := &common{ctx: ctx, opts: opts, keys: defaultKeys(), styles: DefaultStyles()}
	m := &Model{
		common: c,
		sender: opts.Sender,
		width:  80,
		height: 24,
		help:   helpBar{help.New()},
		status: statusBar{common: c},
		list:   newList(c),
		filter: &filterModel{common: c},
		detail: newDetail(c),
		curl:   newCurl(c),
		unsub:  func() {},
	}
	if m.sender == nil {
		m.sender = &replay.Sender{Store: opts.Store, Bus: opts.Bus, Secret: opts.Secret}
	}
	if opts.Bus != nil {
		m.events, m.unsub = opts.Bus.Subscribe(256)
	}
	m.resize()
	return m
}

// Close ends the model's bus subscription.
func (m *Model) Close() { m.unsub() }

// busMsg is one live event from the agent.
type busMsg struct{ ev live.Event }

// Init starts the first load, the bus reader and the clock.
func (m *Model) Init() tea.Cmd {
	return tea.Batch(m.list.reload(), m.status.countCmd(), m.waitEvent(), tick())
}

// waitEvent reads the next live event; Update re-arms it after each one.
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

// Update routes one message to the model it is for.
func (m *Model) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	switch msg := msg.(type) {
	case tea.WindowSizeMsg:
		m.width, m.height = msg.Width, msg.Height
		m.help.Width = msg.Width
		m.resize()
		return m, m.list.reload() // always: Render waits for this load
	case tea.KeyMsg:
		return m, m.onKey(msg)
	case busMsg:
		return m, tea.Batch(m.onEvent(msg.ev), m.waitEvent())
	case tickMsg:
		if m.quitting {
			m.inFlight = m.opts.InFlight()
		}
		return m, m.status.Update(msg)
	case countMsg:
		return m, m.status.Update(msg)
	case stoppedMsg:
		return m, tea.Quit
	case noteMsg:
		m.status.say(string(msg), nil)
		return m, nil
	case pageMsg:
		return m, m.list.Update(msg)
	case filterMsg:
		return m, m.filter.Update(msg)
	case queryMsg:
		return m, tea.Batch(m.list.setQuery(msg), m.status.setQuery(msg.query, msg.text))
	case detailMsg:
		return m, m.detail.Update(msg)
	case actionMsg:
		return m, m.onAction(msg)
	case editMsg:
		return m, m.onEdit(msg)
	case copiedMsg:
		return m, m.onCopied(msg)
	}
	return m, m.active().Update(msg)
}

// active is the model of the screen on show.
func (m *Model) active() component {
	switch m.screen {
	case screenDetail:
		return m.detail
	case screenCurl:
		return m.curl
	}
	return m.list
}

// resize gives every screen the space between the title, the status line
// and the help; the caller reloads the list's page.
func (m *Model) resize() {
	h := max(m.height-2-m.help.height(m.active()), 2)
	m.list.SetSize(m.width, h)
	m.detail.SetSize(m.width, h)
	m.curl.SetSize(m.width, h)
}

// show puts a screen up. Its help may take another height: the screens
// are sized again, and the list's page loaded again if its rows changed.
func (m *Model) show(s screen) tea.Cmd {
	m.screen = s
	rows := m.list.rows()
	m.resize()
	if m.list.rows() != rows {
		return m.list.reload()
	}
	return nil
}

// onKey handles the keys every screen shares and hands the rest on.
func (m *Model) onKey(msg tea.KeyMsg) tea.Cmd {
	if m.filter.typing {
		if msg.Type == tea.KeyCtrlC {
			return m.quit() // waits for deliveries in flight, as on any screen
		}
		return m.filter.Update(msg)
	}
	if msg.Type == tea.KeyRunes && len(msg.Runes) > 1 && !msg.Paste {
		return m.onRunes(msg)
	}
	switch {
	case key.Matches(msg, m.keys.Quit):
		return m.quit()
	case m.help.ShowAll && key.Matches(msg, m.keys.Back):
		m.help.ShowAll = false // esc closes the help before it goes back
		m.resize()
		return m.list.reload()
	case key.Matches(msg, m.keys.Help):
		m.help.ShowAll = !m.help.ShowAll
		m.resize()
		return m.list.reload()
	}
	if d := m.current(); d != nil {
		if cmd, ok := m.actionFor(msg, d); ok {
			return cmd
		}
	}
	switch m.screen {
	case screenDetail:
		return m.onDetailKey(msg)
	case screenCurl:
		return m.onCurlKey(msg)
	}
	return m.onListKey(msg)
}

// quit ends the UI, once the agent has finished the deliveries it is
// forwarding (the relay would send them again, to an app that may have
// acted on them); quitting again while it waits leaves at once.
func (m *Model) quit() tea.Cmd {
	if m.quitting {
		m.forced = true
		return tea.Quit
	}
	if m.opts.InFlight == nil || m.opts.Stop == nil {
		return tea.Quit
	}
	if m.inFlight = m.opts.InFlight(); m.inFlight == 0 {
		return tea.Quit
	}
	m.quitting = true
	done := m.opts.Stop()
	return func() tea.Msg {
		<-done
		return stoppedMsg{}
	}
}

// onRunes takes letters that came in one message, as bubbletea reads
// keys typed faster than it reads them ("jjj", "/ent_2"), one key at a
// time; once / opens the filter, the rest is its text.
func (m *Model) onRunes(msg tea.KeyMsg) tea.Cmd {
	var cmds []tea.Cmd
	for i, r := range msg.Runes {
		if m.filter.typing {
			rest := msg
			rest.Runes = msg.Runes[i:]
			cmds = append(cmds, m.filter.Update(rest))
			break
		}
		one := msg
		one.Runes = []rune{r}
		cmds = append(cmds, m.onKey(one))
	}
	return tea.Batch(cmds...)
}

// current is the delivery the action keys act on: the one shown in
// detail, else the selected row.
func (m *Model) current() *store.Delivery {
	switch m.screen {
	case screenDetail:
		return m.detail.d
	case screenList:
		return m.list.selectedDelivery()
	}
	return nil
}

func (m *Model) onListKey(msg tea.KeyMsg) tea.Cmd {
	switch {
	case key.Matches(msg, m.keys.Filter):
		m.status.message = ""
		m.filter.typing = true
		return nil
	case key.Matches(msg, m.keys.Back):
		if m.list.queryText != "" || m.filter.text != "" {
			return m.filter.clear()
		}
		m.status.message = ""
		return nil
	case key.Matches(msg, m.keys.Open):
		if d := m.list.selectedDelivery(); d != nil {
			return tea.Batch(m.show(screenDetail), m.detail.open(d.ID))
		}
		return nil
	}
	return m.list.Update(msg)
}

func (m *Model) onDetailKey(msg tea.KeyMsg) tea.Cmd {
	if key.Matches(msg, m.keys.Back) {
		m.detail.close()
		return m.show(screenList)
	}
	return m.detail.Update(msg)
}

func (m *Model) onCurlKey(msg tea.KeyMsg) tea.Cmd {
	if key.Matches(msg, m.keys.Close) {
		if m.detail.d != nil {
			return m.show(screenDetail)
		}
		return m.show(screenList)
	}
	return m.curl.Update(msg)
}

// onEvent hands a live event to the models it concerns.
func (m *Model) onEvent(ev live.Event) tea.Cmd {
	switch ev.Kind {
	case live.EventRelay:
		m.status.conn = ev.Relay
		m.list.webhookURL = ev.Relay.URL
	case live.EventStore:
		m.status.store = ev.Store
	case live.EventApp:
		if ev.App.Listening != m.status.app.Listening {
			m.status.message = "" // the change shows in its place
		}
		m.status.app = ev.App
	case live.EventReceived:
		m.status.received()
		return m.list.received()
	case live.EventAttempt:
		cmds := []tea.Cmd{m.list.reload()}
		if ev.Delivery != nil {
			cmds = append(cmds, m.detail.reloadIfShown(ev.Delivery.ID))
		}
		return tea.Batch(cmds...)
	}
	return nil
}

// View renders what Update loaded; it never reads the store.
func (m *Model) View() string {
	return strings.Join([]string{m.titleBar(), m.active().View(), m.statusLine(), m.help.view(m.active(), m.width)}, "\n")
}
