package main

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/hooktap/hooktap/inspector/store"
)

// progressBar draws one line on a terminal for long work (import, export,
// prune, the search index catching up):
//
//	exporting [██████████░░░░░░░░░░]  52%  52,000/100,000  24,310/s  ETA 2s
//
// redrawn at most every redraw, and wiped when done. It is nil, and
// silent, when stderr is not a terminal: piped output stays clean.
type progressBar struct {
	w      io.Writer
	label  string
	now    func() time.Time
	start  time.Time
	drawn  time.Time
	shown  bool
	redraw time.Duration
}

// newProgress is a bar on e's stderr when it is a terminal, else nil.
func newProgress(e *env, label string) *progressBar {
	if !isTerminal(e.stderr) {
		return nil
	}
	return newProgressOn(e.stderr, label, time.Now)
}

func newProgressOn(w io.Writer, label string, now func() time.Time) *progressBar {
	return &progressBar{w: w, label: label, now: now, start: now(), redraw: 100 * time.Millisecond}
}

// progress is p as a store.Progress; nil when p is nil, so that the store
// counts no totals for nobody.
func (p *progressBar) progress() store.Progress {
	if p == nil {
		return nil
	}
	return p.set
}

// set shows done of total, unless the last drawing is too recent (the end
// is always drawn).
func (p *progressBar) set(done, total int64) {
	if p == nil {
		return
	}
	t := p.now()
	if p.shown && done < total && t.Sub(p.drawn) < p.redraw {
		return
	}
	p.drawn, p.shown = t, true
	fmt.Fprint(p.w, "\r"+p.line(done, total, t.Sub(p.start))+"\x1b[K")
}

// line is the bar's text after elapsed.
func (p *progressBar) line(done, total int64, elapsed time.Duration) string {
	const width = 20
	frac := 0.0
	if total > 0 {
		frac = min(float64(done)/float64(total), 1)
	}
	full := int(frac * width)
	var b strings.Builder
	fmt.Fprintf(&b, "%s [%s%s] %3.0f%%  %s/%s", p.label, strings.Repeat("█", full), strings.Repeat("░", width-full),
		frac*100, comma(done), comma(total))
	if secs := elapsed.Seconds(); secs > 0 && done > 0 {
		rate := float64(done) / secs
		fmt.Fprintf(&b, "  %s/s", comma(int64(rate)))
		if done < total {
			eta := time.Duration(float64(total-done) / rate * float64(time.Second))
			fmt.Fprintf(&b, "  ETA %s", eta.Round(time.Second))
		}
	}
	return b.String()
}

// finish wipes the bar's line, for the summary to take it; again, it does
// nothing.
func (p *progressBar) finish() {
	if p == nil || !p.shown {
		return
	}
	fmt.Fprint(p.w, "\r\x1b[K")
	p.shown = false
}

// comma writes n with thousands separators.
func comma(n int64) string {
	s := fmt.Sprint(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}
