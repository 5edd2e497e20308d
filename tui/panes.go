package tui

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/charmbracelet/x/ansi"

	"github.com/hooktap/hooktap/inspector/signing"
	"github.com/hooktap/hooktap/inspector/store"
)

// maxShownBody caps how much of a body the detail view renders.
const maxShownBody = 256 << 10

// paneContent is one pane of d, in full: the viewport scrolls it.
func (v *detailModel) paneContent(d *store.Delivery, pane int) string {
	switch pane {
	case paneResponse:
		return v.responsePane(d)
	case paneAttempts:
		return v.attemptsPane(d)
	}
	return v.requestPane(d)
}

func (v *detailModel) requestPane(d *store.Delivery) string {
	st := v.styles
	var b strings.Builder
	line := st.Label.Render(d.Method) + " " + requestTarget(d)
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
	field("received", d.ReceivedAt.In(v.opts.Location).Format("2006-01-02 15:04:05.000 MST"))
	field("from", d.RemoteAddr)
	field("host", d.Host)
	if d.ObjectType != "" || d.Action != "" {
		field("event", d.Action)
	}
	field("object", d.ObjectType)
	field("entity", d.EntityID)
	field("object id", d.ObjectID)
	field("event id", d.EventID)
	field("signature", v.signatureText(d))
	if d.Elsewhere != nil {
		field("last", d.Elsewhere.String())
	}
	field("emulator", emulatorText(d))
	b.WriteString("\n" + st.Label.Render("Headers") + "\n")
	b.WriteString(v.headerLines(d.Header))
	b.WriteString("\n" + st.Label.Render("Body") + "\n")
	b.WriteString(v.prettyBody(d.Body, d.Header.Get("Content-Type")))
	return b.String()
}

func (v *detailModel) signatureText(d *store.Delivery) string {
	st := v.styles
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

func (v *detailModel) responsePane(d *store.Delivery) string {
	st := v.styles
	if len(d.History) == 0 {
		return st.Dim.Render("Not forwarded yet.")
	}
	// The answer of the row's own target; a replay elsewhere is apart.
	a := d.Latest()
	var b strings.Builder
	if d.Elsewhere != nil {
		fmt.Fprintf(&b, "%s\n", st.Dim.Render("last: "+d.Elsewhere.String()+" (in attempts)"))
	}
	fmt.Fprintf(&b, "%s  %s  %s  %s\n", st.statusCell(a.Status, true), st.Dim.Render(string(a.Kind)), FormatMS(a.DurationMS()), a.Target)
	fmt.Fprintf(&b, "%s\n", st.Dim.Render("at "+a.StartedAt.In(v.opts.Location).Format("2006-01-02 15:04:05.000")))
	if a.Error != "" {
		b.WriteString(st.Error.Render("error: "+a.Error) + "\n")
	}
	if a.Status == 0 {
		return b.String()
	}
	fmt.Fprintf(&b, "\n%s\n%s", st.Label.Render("Headers"), v.headerLines(a.Header))
	fmt.Fprintf(&b, "\n%s\n%s", st.Label.Render("Body"), v.prettyBody(a.Body, a.Header.Get("Content-Type")))
	return b.String()
}

func (v *detailModel) attemptsPane(d *store.Delivery) string {
	st := v.styles
	if len(d.History) == 0 {
		return st.Dim.Render("No attempts yet.")
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s\n", st.Header.Render(fmt.Sprintf("%-3s %-8s %-23s %-3s  %9s", "#", "KIND", "STARTED", "ST", "DURATION")))
	for i, a := range d.History {
		status := st.statusCell(a.Status, true)
		fmt.Fprintf(&b, "%-3d %-8s %-23s %s  %9s\n", i+1, a.Kind,
			a.StartedAt.In(v.opts.Location).Format("2006-01-02 15:04:05.000"), status, FormatMS(a.DurationMS()))
		fmt.Fprintf(&b, "    %s\n", st.Dim.Render("→ "+a.Target))
		if a.Error != "" {
			fmt.Fprintf(&b, "    %s\n", st.Error.Render(a.Error))
		}
		if a.RequestBody != nil && !bytes.Equal(a.RequestBody, d.Body) {
			fmt.Fprintf(&b, "    %s\n", st.Dim.Render(fmt.Sprintf("sent an edited body (%d bytes)", len(a.RequestBody))))
		}
		if a.Status != 0 && len(a.Body) > 0 {
			line, _, _ := strings.Cut(store.Printable(string(a.Body)), "\n")
			fmt.Fprintf(&b, "    %s\n", st.Dim.Render("← "+ansi.Truncate(line, 100, "…")))
		}
	}
	return b.String()
}

// headerLines lists headers sorted by name.
func (v *detailModel) headerLines(h http.Header) string {
	if len(h) == 0 {
		return v.styles.Dim.Render("  (none)") + "\n"
	}
	var b strings.Builder
	for _, k := range slices.Sorted(maps.Keys(h)) {
		for _, val := range h[k] {
			fmt.Fprintf(&b, "  %s %s\n", v.styles.JSONKey.Render(k+":"), val)
		}
	}
	return b.String()
}

// prettyBody indents and colours JSON; other text is shown as is and
// binary data as a count.
func (v *detailModel) prettyBody(body []byte, contentType string) string {
	if len(body) == 0 {
		return v.styles.Dim.Render("  (empty)") + "\n"
	}
	cut := ""
	if len(body) > maxShownBody {
		cut = v.styles.Dim.Render(fmt.Sprintf("\n… %d more bytes", len(body)-maxShownBody))
	}
	if cut == "" && json.Valid(body) {
		var buf bytes.Buffer
		if err := json.Indent(&buf, body, "", "  "); err == nil {
			return colourJSON(buf.String(), v.styles) + "\n"
		}
	}
	shown := body[:min(len(body), maxShownBody)]
	if !utf8.Valid(shown) {
		return v.styles.Dim.Render(fmt.Sprintf("  (%d bytes of %s data)", len(body), orDefault(contentType, "binary"))) + "\n"
	}
	return store.Printable(string(shown)) + cut + "\n"
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

// emulatorText says which subscription and attempt a delivery from
// hooktap's provider emulator is (its own X-Hooktap-* headers); "" for
// other senders.
func emulatorText(d *store.Delivery) string {
	n := d.Header.Get("X-Hooktap-Attempt")
	if n == "" {
		return ""
	}
	return "subscription " + d.Header.Get("X-Hooktap-Subscription-Id") + ", attempt " + n
}
