package tui

import (
	"fmt"
	"strings"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/x/ansi"

	"github.com/hooktap/hooktap/inspector/live"
	"github.com/hooktap/hooktap/inspector/store"
)

// statusBar is what the title and status lines say beside the screens:
// the relay connection, whether the agent's store can write, how many
// deliveries there are and at what rate, and the last message.
type statusBar struct {
	*common
	conn     live.RelayStatus
	app      live.AppHealth   // whether the app listens on the forward target
	store    live.StoreHealth // the agent's store: failing while it cannot write
	count    int64
	counting bool
	counted  bool // a count came: until then the count is not shown
	// The filter applied and how many deliveries it matches ("3 of 6");
	// matchingFor is the filter text matching was counted for.
	query        store.Query
	queryText    string
	matching     int64
	matchingFor  string
	matchedTotal int64
	arrivals     []time.Time // receipt times over the last minute
	message      string
	messageErr   bool
	messageAt    time.Time // when message was said: it goes after messageTTL
}

// messageTTL is how long an action's result stays on the status line; an
// error stays longer, to be read.
const messageTTL, errorTTL = 5 * time.Second, 10 * time.Second

type (
	countMsg struct {
		n        int64
		matching int64
		query    string // the filter text matching was counted for
		err      error
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
			s.counted = true
			s.count, s.matching, s.matchingFor, s.matchedTotal = msg.n, msg.matching, msg.query, msg.n
		}
		if msg.query != s.queryText {
			return s.countCmd() // the filter changed meanwhile
		}
	case tickMsg:
		ttl := messageTTL
		if s.messageErr {
			ttl = errorTTL
		}
		if s.message != "" && time.Time(msg).Sub(s.messageAt) >= ttl {
			s.message = ""
		}
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
	ctx, st, q, text := s.ctx, s.opts.Store, s.query, s.queryText
	// A search over a large store costs more than a count: it is counted
	// again only when the filter or the number of deliveries changed.
	// (received bumps count ahead of a count: matchedTotal is the count
	// matching went with.)
	prevTotal, prevMatching, counted := s.matchedTotal, s.matching, s.matchingFor == text
	return func() tea.Msg {
		n, err := st.Count(ctx)
		msg := countMsg{n: n, matching: prevMatching, query: text, err: err}
		if err == nil && text != "" && (n != prevTotal || !counted) {
			msg.matching, msg.err = st.CountMatching(ctx, q)
		}
		return msg
	}
}

// setQuery counts what the filter applied matches, at once.
func (s *statusBar) setQuery(q store.Query, text string) tea.Cmd {
	s.query, s.queryText = q, text
	return s.countCmd()
}

// countText is "1 delivery", "6 deliveries", or "3 of 6 deliveries" under
// a filter; "" until the first count came (the first rows can come
// before it, under a "0 deliveries").
func (s *statusBar) countText() string {
	if !s.counted {
		return ""
	}
	noun := "deliveries"
	if s.count == 1 {
		noun = "delivery"
	}
	if s.queryText != "" && s.matchingFor == s.queryText {
		return comma(s.matching) + " of " + comma(s.count) + " " + noun
	}
	return comma(s.count) + " " + noun
}

// received counts a delivery at once; the next count makes it exact.
func (s *statusBar) received() {
	s.arrivals = append(s.arrivals, s.now())
	s.count++
}

// say shows text, or err in red.
func (s *statusBar) say(text string, err error) {
	s.messageAt = time.Now() // as tick's times: the real clock, not opts.Now
	if err != nil {
		s.message, s.messageErr = err.Error(), true
		return
	}
	s.message, s.messageErr = text, false
}

// titleBar names the relay connection, the webhook URL, the forward target,
// the emulator's API and the web inspector; or, browsing history, the store.
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
		if s.conn.Target != "" { // before the rest: it turns red when the app is down
			parts = append(parts, s.targetText())
		}
		switch n := len(s.conn.Routes); {
		case n == 1:
			parts = append(parts, st.Dim.Render("+1 route"))
		case n > 1:
			parts = append(parts, st.Dim.Render(fmt.Sprintf("+%d routes", n)))
		}
		if m.opts.ProviderAPI != "" {
			parts = append(parts, st.Dim.Render("API "+m.opts.ProviderAPI))
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
		text := "● connected"
		// dev's agent is attached in memory: a round trip under 0.1 ms
		// says nothing, and "0.0ms" reads as broken (as on the web page).
		if s.conn.RTT >= 100*time.Microsecond {
			text += " " + fmtRTT(s.conn.RTT)
		}
		return st.Connected.Render(text)
	case live.StateReconnecting:
		text := "◌ reconnecting"
		if wait := s.conn.RetryAt.Sub(s.now()); wait > 0 {
			text += fmt.Sprintf(" in %ds", int((wait+time.Second-1)/time.Second))
		}
		if s.conn.Reason != "" {
			text += " (" + s.conn.Reason + ")"
		}
		if s.conn.Stalled { // the relay froze or the network went: red until welcomed again
			return st.Offline.Render("○ relay not answering, " + strings.TrimPrefix(text, "◌ "))
		}
		return st.Waiting.Render(text)
	case live.StateConnecting, "":
		return st.Waiting.Render("◌ connecting")
	case live.StateRefused:
		return st.Offline.Render("○ refused: " + s.conn.Reason)
	}
	return st.Offline.Render("○ offline")
}

// fmtRTT is a heartbeat's round trip, short.
func fmtRTT(d time.Duration) string {
	if d < 10*time.Millisecond {
		return fmt.Sprintf("%.1fms", float64(d)/float64(time.Millisecond))
	}
	return d.Round(time.Millisecond).String()
}

// targetText is the forward target, green while the app listens there and
// red while nothing does.
func (s *statusBar) targetText() string {
	text := "→ " + s.conn.Target
	switch {
	case s.app.Down():
		return s.styles.Offline.Render(text)
	case s.app.Checked:
		return s.styles.Connected.Render(text)
	}
	return text
}

// appText says that nothing listens on the forward target, with as much
// advice as there is room for.
func (s *statusBar) appText(width int) string {
	for _, text := range []string{s.app.Problem(), s.app.Brief()} {
		if ansi.StringWidth(text) <= width {
			return text
		}
	}
	return s.app.Short()
}

// statusLine is what quitting waits for, else the filter being typed, else
// a store that cannot write, else a bad filter, else the last message (an
// action's result, for a few seconds), else a web inspector that did not
// start, else an app that does not listen, else the filter applied; and
// on the right the new deliveries above the page, the count, the rate and
// the follow mode.
func (m *Model) statusLine() string {
	st, s := m.styles, &m.status
	var right []string
	if m.list.newer > 0 {
		right = append(right, st.Message.Render(fmt.Sprintf("▲ %d new (g)", m.list.newer)))
	}
	if c := s.countText(); c != "" {
		right = append(right, c)
	}
	if m.opts.Bus != nil {
		right = append(right, fmt.Sprintf("%d/min", len(s.arrivals)))
	}
	if a := s.app; a.Failures > 0 {
		right = append(right, st.Error.Render(fmt.Sprintf("%d%% failed", int(a.ErrorRate()*100+0.5))))
	}
	if m.list.follow {
		right = append(right, st.Connected.Render("FOLLOW"))
	}
	r := strings.Join(right, " · ")
	var left string
	switch {
	case m.quitting:
		left = st.Message.Render(m.quitText())
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
	case len(m.opts.FilterWarnings) > 0:
		// Before the web inspector's: a typo here loses deliveries.
		left = st.Error.Render(strings.Join(m.opts.FilterWarnings, "; "))
	case m.opts.WebProblem != "":
		left = st.Error.Render(m.opts.WebProblem)
	case s.app.Down():
		left = st.Error.Render(s.appText(m.width - ansi.StringWidth(r) - 1))
	case m.list.queryText != "":
		left = st.Dim.Render("filter: ") + m.list.queryText
	}
	space := m.width - ansi.StringWidth(r) - 1
	if space < 10 {
		return fit(left, m.width)
	}
	return fit(left, space) + " " + r
}

// quitText says what quitting waits for, and how not to wait.
func (m *Model) quitText() string {
	switch m.inFlight {
	case 0:
		return "stopping…"
	case 1:
		return "waiting for 1 delivery in flight to the app… Ctrl-C again to quit now"
	}
	return fmt.Sprintf("waiting for %d deliveries in flight to the app… Ctrl-C again to quit now", m.inFlight)
}

func (s *statusBar) storeText() string {
	noun := "deliveries"
	if s.store.Waiting == 1 {
		noun = "delivery"
	}
	return fmt.Sprintf("store: cannot write (%s) — %d %s waiting; retrying", s.store.Cause(), s.store.Waiting, noun)
}
