package tui

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/charmbracelet/bubbles/key"
	"github.com/charmbracelet/bubbles/viewport"
	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/x/ansi"

	"github.com/hooktap/hooktap/inspector/signing"
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

// maxShownBody caps how much of a body the detail view renders.
const maxShownBody = 256 << 10

// detail is the screen for one delivery.
type detail struct {
	d         *store.Delivery // with headers, body and history
	loadingID string
	err       error
	pane      int
	vp        viewport.Model
}

type detailMsg struct {
	id  string
	d   *store.Delivery
	err error
}

func (m *Model) loadDetail(id string) tea.Cmd {
	ctx, st := m.ctx, m.opts.Store
	return func() tea.Msg {
		d, err := st.Get(ctx, id)
		return detailMsg{id: id, d: d, err: err}
	}
}

func (m *Model) onDetail(msg detailMsg) tea.Cmd {
	if m.screen != screenDetail || msg.id != m.detail.loadingID {
		return nil // the user moved on
	}
	same := m.detail.d != nil && msg.d != nil && m.detail.d.ID == msg.d.ID
	m.detail.d, m.detail.err = msg.d, msg.err
	m.renderPane(same)
	return nil
}

func (m *Model) onDetailKey(msg tea.KeyMsg) tea.Cmd {
	k := m.keys
	switch {
	case key.Matches(msg, k.Quit):
		return tea.Quit
	case key.Matches(msg, k.Back):
		m.screen = screenList
		m.detail.d, m.detail.loadingID = nil, ""
		return nil
	case key.Matches(msg, k.NextPane):
		step := 1
		if msg.String() == "shift+tab" {
			step = paneCount - 1
		}
		m.detail.pane = (m.detail.pane + step) % paneCount
		m.renderPane(false)
		return nil
	}
	if m.detail.d != nil {
		if cmd, ok := m.actionFor(msg, m.detail.d); ok {
			return cmd
		}
	}
	var cmd tea.Cmd
	m.detail.vp, cmd = m.detail.vp.Update(msg)
	return cmd
}

// resizePanes fits the scrolling panes to the window.
func (m *Model) resizePanes() {
	h := max(m.height-3-m.helpHeight(), 1) // title, tabs, status, help
	m.detail.vp.Width, m.detail.vp.Height = m.width, h
	m.text.Width, m.text.Height = m.width, h
	if m.screen == screenDetail {
		m.renderPane(true)
	}
}

// renderPane fills the viewport with the current pane.
func (m *Model) renderPane(keepOffset bool) {
	off := m.detail.vp.YOffset
	var s string
	switch {
	case m.detail.err != nil:
		s = m.styles.Error.Render(m.detail.err.Error())
	case m.detail.d == nil:
		s = m.styles.Dim.Render("loading…")
	default:
		s = m.paneContent(m.detail.d, m.detail.pane)
	}
	m.detail.vp.SetContent(ansi.Hardwrap(s, max(m.width, 10), true))
	if keepOffset {
		m.detail.vp.SetYOffset(off)
	} else {
		m.detail.vp.GotoTop()
	}
}

func (m *Model) paneContent(d *store.Delivery, pane int) string {
	switch pane {
	case paneResponse:
		return m.responsePane(d)
	case paneAttempts:
		return m.attemptsPane(d)
	}
	return m.requestPane(d)
}

func (m *Model) requestPane(d *store.Delivery) string {
	st := m.styles
	var b strings.Builder
	target := d.Path
	if target == "" {
		target = "/"
	}
	if d.Query != "" {
		target += "?" + d.Query
	}
	line := st.Label.Render(d.Method) + " " + target
	if strings.HasPrefix(d.Proto, "HTTP/") {
		line += " " + st.Dim.Render(d.Proto)
	}
	b.WriteString(line + "\n\n")
	field := func(name, value string) {
		if value != "" {
			fmt.Fprintf(&b, "%s %s\n", st.Dim.Render(fmt.Sprintf("%-10s", name)), value)
		}
	}
	field("id", d.ID)
	field("received", d.ReceivedAt.In(m.opts.Location).Format("2006-01-02 15:04:05.000 MST"))
	field("from", d.RemoteAddr)
	field("host", d.Host)
	if d.ObjectType != "" || d.Action != "" {
		field("event", d.Action)
	}
	field("object", d.ObjectType)
	field("entity", d.EntityID)
	field("object id", d.ObjectID)
	field("event id", d.EventID)
	field("signature", m.signatureText(d))
	b.WriteString("\n" + st.Label.Render("Headers") + "\n")
	b.WriteString(m.headerLines(d.Header))
	b.WriteString("\n" + st.Label.Render("Body") + "\n")
	b.WriteString(m.prettyBody(d.Body, d.Header.Get("Content-Type")))
	return b.String()
}

func (m *Model) signatureText(d *store.Delivery) string {
	st := m.styles
	s := string(d.Signature)
	if d.Scheme != "" {
		s += " (" + d.Scheme + ")"
	}
	switch d.Signature {
	case signing.Valid:
		s = st.SigValid.Render("✓ " + s)
	case signing.Invalid, signing.Expired:
		s = st.SigBad.Render("✗ " + s)
	}
	if d.SignatureReason != "" {
		s += ": " + d.SignatureReason
	}
	return s
}

func (m *Model) responsePane(d *store.Delivery) string {
	st := m.styles
	if len(d.History) == 0 {
		return st.Dim.Render("Not forwarded yet.")
	}
	a := d.History[len(d.History)-1]
	var b strings.Builder
	fmt.Fprintf(&b, "%s  %s  %s  %s\n", m.statusCell(a.Status, true), st.Dim.Render(string(a.Kind)), fmtMS(a.DurationMS()), a.Target)
	fmt.Fprintf(&b, "%s\n", st.Dim.Render("at "+a.StartedAt.In(m.opts.Location).Format("2006-01-02 15:04:05.000")))
	if a.Error != "" {
		b.WriteString(st.Error.Render("error: "+a.Error) + "\n")
	}
	if a.Status == 0 {
		return b.String()
	}
	fmt.Fprintf(&b, "\n%s\n%s", st.Label.Render("Headers"), m.headerLines(a.Header))
	fmt.Fprintf(&b, "\n%s\n%s", st.Label.Render("Body"), m.prettyBody(a.Body, a.Header.Get("Content-Type")))
	return b.String()
}

func (m *Model) attemptsPane(d *store.Delivery) string {
	st := m.styles
	if len(d.History) == 0 {
		return st.Dim.Render("No attempts yet.")
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s\n", st.Header.Render(fmt.Sprintf("%-3s %-8s %-23s %-3s  %9s", "#", "KIND", "STARTED", "ST", "DURATION")))
	for i, a := range d.History {
		status := m.statusCell(a.Status, true)
		fmt.Fprintf(&b, "%-3d %-8s %-23s %s  %9s\n", i+1, a.Kind,
			a.StartedAt.In(m.opts.Location).Format("2006-01-02 15:04:05.000"), status, fmtMS(a.DurationMS()))
		fmt.Fprintf(&b, "    %s\n", st.Dim.Render("→ "+a.Target))
		if a.Error != "" {
			fmt.Fprintf(&b, "    %s\n", st.Error.Render(a.Error))
		}
		if a.RequestBody != nil && !bytes.Equal(a.RequestBody, d.Body) {
			fmt.Fprintf(&b, "    %s\n", st.Dim.Render(fmt.Sprintf("sent an edited body (%d bytes)", len(a.RequestBody))))
		}
		if a.Status != 0 && len(a.Body) > 0 {
			line, _, _ := strings.Cut(string(a.Body), "\n")
			fmt.Fprintf(&b, "    %s\n", st.Dim.Render("← "+ansi.Truncate(line, 100, "…")))
		}
	}
	return b.String()
}

// headerLines lists headers sorted by name.
func (m *Model) headerLines(h http.Header) string {
	if len(h) == 0 {
		return m.styles.Dim.Render("  (none)") + "\n"
	}
	names := make([]string, 0, len(h))
	for k := range h {
		names = append(names, k)
	}
	slices.Sort(names)
	var b strings.Builder
	for _, k := range names {
		for _, v := range h[k] {
			fmt.Fprintf(&b, "  %s %s\n", m.styles.JSONKey.Render(k+":"), v)
		}
	}
	return b.String()
}

// prettyBody indents and colours JSON; other text is shown as is and
// binary data as a count.
func (m *Model) prettyBody(body []byte, contentType string) string {
	if len(body) == 0 {
		return m.styles.Dim.Render("  (empty)") + "\n"
	}
	cut := ""
	if len(body) > maxShownBody {
		cut = m.styles.Dim.Render(fmt.Sprintf("\n… %d more bytes", len(body)-maxShownBody))
	}
	if cut == "" && json.Valid(body) {
		var buf bytes.Buffer
		if err := json.Indent(&buf, body, "", "  "); err == nil {
			return colourJSON(buf.String(), m.styles) + "\n"
		}
	}
	shown := body[:min(len(body), maxShownBody)]
	if !utf8.Valid(shown) {
		return m.styles.Dim.Render(fmt.Sprintf("  (%d bytes of %s data)", len(body), orDefault(contentType, "binary"))) + "\n"
	}
	return string(shown) + cut + "\n"
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// colourJSON colours indented JSON: keys, strings, numbers and words.
func colourJSON(s string, st Styles) string {
	var b strings.Builder
	b.Grow(len(s) * 2)
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == '"':
			j := i + 1
			for j < len(s) && s[j] != '"' {
				if s[j] == '\\' {
					j++
				}
				j++
			}
			j = min(j+1, len(s))
			k := j
			for k < len(s) && s[k] == ' ' {
				k++
			}
			if k < len(s) && s[k] == ':' {
				b.WriteString(st.JSONKey.Render(s[i:j]))
			} else {
				b.WriteString(st.JSONStr.Render(s[i:j]))
			}
			i = j
		case c == '-' || (c >= '0' && c <= '9'):
			j := i + 1
			for j < len(s) && strings.IndexByte("0123456789.eE+-", s[j]) >= 0 {
				j++
			}
			b.WriteString(st.JSONNum.Render(s[i:j]))
			i = j
		case c == 't' || c == 'f' || c == 'n':
			j := i + 1
			for j < len(s) && s[j] >= 'a' && s[j] <= 'z' {
				j++
			}
			b.WriteString(st.JSONWord.Render(s[i:j]))
			i = j
		default:
			b.WriteByte(c)
			i++
		}
	}
	return b.String()
}
