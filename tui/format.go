package tui

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/charmbracelet/lipgloss"
	"github.com/charmbracelet/x/ansi"

	"github.com/hooktap/hooktap/inspector/signing"
	"github.com/hooktap/hooktap/inspector/store"
)

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

// statusCell is a 3-cell status coloured by class.
func (st Styles) statusCell(status int, answered bool) string {
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

// sigStyle colours a signature mark.
func (st Styles) sigStyle(s signing.State) lipgloss.Style {
	switch s {
	case signing.Valid:
		return st.SigValid
	case signing.Invalid, signing.Expired:
		return st.SigBad
	}
	return st.Dim
}

// requestTarget is the path and query a delivery came to.
func requestTarget(d *store.Delivery) string {
	t := orDefault(d.Path, "/")
	if d.Query != "" {
		t += "?" + d.Query
	}
	return t
}

// FormatMS is a duration in milliseconds as the TUI and events list show
// it: 12.3ms, or 9.76s from a second up.
func FormatMS(ms float64) string {
	if ms >= 1000 {
		return fmt.Sprintf("%.2fs", ms/1000)
	}
	return fmt.Sprintf("%.1fms", ms)
}

func comma(n int64) string {
	s := strconv.FormatInt(n, 10)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// printable is d as the screen may show it: anyone who can post a webhook
// chooses its event name, path, headers and body, and an escape sequence
// among them would reach the terminal (store.Printable). Bodies are made
// printable where they are shown.
func printable(d *store.Delivery) *store.Delivery {
	c := *d
	for _, s := range []*string{&c.Method, &c.Path, &c.Query, &c.ObjectType, &c.Action, &c.EntityID, &c.ObjectID,
		&c.EventID, &c.Scheme, &c.SignatureReason, &c.Error, &c.Target, &c.RemoteAddr, &c.Host} {
		*s = store.Printable(*s)
	}
	c.Header = printableHeader(d.Header)
	c.History = make([]*store.Attempt, len(d.History))
	for i, a := range d.History {
		ca := *a
		ca.Target, ca.Error = store.Printable(a.Target), store.Printable(a.Error)
		ca.Header, ca.RequestHeader = printableHeader(a.Header), printableHeader(a.RequestHeader)
		c.History[i] = &ca
	}
	return &c
}

func printableHeader(h http.Header) http.Header {
	if h == nil {
		return nil
	}
	out := make(http.Header, len(h))
	for k, vs := range h {
		pv := make([]string, len(vs))
		for i, v := range vs {
			pv[i] = store.Printable(v)
		}
		out[store.Printable(k)] = pv
	}
	return out
}
