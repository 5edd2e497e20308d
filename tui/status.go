package tui

import (
	"fmt"
	"strings"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/x/ansi"

	"github.com/hooktap/hooktap/inspector/live"
)

// statusBar is what the title and status lines say beside the screens:
// the relay connection, whether the agent's store can write, how many
// deliveries there are and at what rate, and the last message.
type statusBar struct {
	*common
	conn       live.RelayStatus
	store      live.StoreHealth // the agent's store: failing while it cannot write
	count      int64
	counting   bool
	arrivals   []time.Time // receipt times over the last minute
	message    string
	messageErr bool
}

type (
	countMsg struct {
		n   int64
		err error
	}
	tickMsg time.Time
)

func tick() tea.Cmd {
	return tea.Tick(time.Second, func(t time.Time) tea.Msg { return tickMsg(t) })
}

// Update takes a count and, once a second, drops arrivals older than a
// minute and counts again.
func (s *statusBar) Update(msg tea.Msg) tea.Cmd {
	switch msg := msg.(type) {
	case countMsg:
		s.counting = false
		if msg.err == nil {
			s.count = msg.n
		}
	case tickMsg:
		cut := time.Time(msg).Add(-time.Minute)
		for len(s.arrivals) > 0 && s.arrivals[0].Before(cut) {
			s.arrivals = s.arrivals[1:]
		}
		return tea.Batch(tick(), s.countCmd())
	}
	return nil
}

func (s *statusBar) countCmd() tea.Cmd {
	if s.counting {
		return nil
	}
	s.counting = true
	ctx, st := s.ctx, s.opts.Store
	return func() tea.Msg {
		n, err := st.Count(ctx)
		return countMsg{n, err}
	}
}

// received counts a delivery at once; the next count makes it exact.
func (s *statusBar) received() {
	s.arrivals = append(s.arrivals, s.now())
	s.count++
}

// say shows text, or err in red.
func (s *statusBar) say(text string, err error) {
	if err != nil {
		s.message, s.messageErr = err.Error(), true
		return
	}
	s.message, s.messageErr = text, false
}

// titleBar names the relay connection, the webhook URL, the forward target
// and the web inspector; or, browsing history, the store.
func (m *Model) titleBar() string {
	st, s := m.styles, &m.status
	parts := []string{st.Title.Render("hooktap")}
	if m.opts.Bus == nil {
		parts = append(parts, st.Dim.Render("history"), orDefault(m.opts.Source, m.opts.Store.Path()))
	} else {
		parts = append(parts, s.connText())
		if s.conn.URL != "" {
			parts = append(parts, s.conn.URL)
		}
		if m.opts.ProviderAPI != "" {
			parts = append(parts, st.Dim.Render("API "+m.opts.ProviderAPI))
		}
		if s.conn.Target != "" {
			parts = append(parts, "→ "+s.conn.Target)
		}
		if m.opts.WebURL != "" {
			parts = append(parts, st.Dim.Render("web "+m.opts.WebURL))
		}
	}
	return fit(strings.Join(parts, "  "), m.width)
}

func (s *statusBar) connText() string {
	st := s.styles
	switch s.conn.State {
	case live.StateConnected:
		return st.Connected.Render("● connected")
	case live.StateReconnecting:
		text := "◌ reconnecting"
		if wait := s.conn.RetryAt.Sub(s.now()); wait > 0 {
			text += fmt.Sprintf(" in %ds", int((wait+time.Second-1)/time.Second))
		}
		return st.Waiting.Render(text)
	case live.StateConnecting, "":
		return st.Waiting.Render("◌ connecting")
	}
	return st.Offline.Render("○ offline")
}

// statusLine is the filter being typed, else a store that cannot write,
// else a bad filter, else the last message, else the filter applied; and
// on the right the new deliveries above the page, the count, the rate and
// the follow mode.
func (m *Model) statusLine() string {
	st, s := m.styles, &m.status
	var right []string
	if m.list.newer > 0 {
		right = append(right, st.Message.Render(fmt.Sprintf("▲ %d new (g)", m.list.newer)))
	}
	right = append(right, comma(s.count)+" deliveries")
	if m.opts.Bus != nil {
		right = append(right, fmt.Sprintf("%d/min", len(s.arrivals)))
	}
	if m.list.follow {
		right = append(right, st.Connected.Render("FOLLOW"))
	}
	r := strings.Join(right, " · ")
	var left string
	switch {
	case m.filter.typing:
		left = m.filter.View()
	case s.store.Failing():
		left = st.Error.Render(s.storeText())
	case m.filter.err != "":
		left = st.Error.Render(m.filter.err)
	case s.message != "" && s.messageErr:
		left = st.Error.Render(s.message)
	case s.message != "":
		left = st.Message.Render(s.message)
	case m.list.queryText != "":
		left = st.Dim.Render("filter: ") + m.list.queryText
	}
	space := m.width - ansi.StringWidth(r) - 1
	if space < 10 {
		return fit(left, m.width)
	}
	return fit(left, space) + " " + r
}

func (s *statusBar) storeText() string {
	noun := "deliveries"
	if s.store.Waiting == 1 {
		noun = "delivery"
	}
	return fmt.Sprintf("store: cannot write (%s) — %d %s waiting; retrying", s.store.Cause(), s.store.Waiting, noun)
}
