package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/charmbracelet/x/term"

	"github.com/hooktap/hooktap/inspector/store"
	"github.com/hooktap/hooktap/tui"
)

func eventsList(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "events list", "events list [flags] [filter words: type:payable status:5xx text]")
	db := dbFlag(fs, e)
	limit := fs.Int("limit", 50, "how many deliveries, newest first")
	jsonOut := fs.Bool("json", false, "print JSON lines")
	var f filterFlags
	f.register(fs)
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	q, err := f.query(pos, time.Now())
	if err != nil {
		return err
	}
	if *limit <= 0 {
		return usagef("--limit must be at least 1")
	}
	q.Limit = *limit
	st, err := readStore(ctx, *db)
	if err != nil {
		return err
	}
	defer st.Close()
	if q.Search != "" {
		if err := indexWithProgress(ctx, e, st); err != nil {
			return err
		}
	}
	ds, err := st.List(ctx, q)
	if err != nil {
		return err
	}
	if *jsonOut {
		enc := json.NewEncoder(e.stdout)
		for _, d := range ds {
			if err := enc.Encode(d); err != nil {
				return err
			}
		}
		return nil
	}
	if len(ds) == 0 {
		if f.hint != "" {
			fmt.Fprintln(e.stderr, "no deliveries match: "+f.hint)
			return nil
		}
		fmt.Fprintln(e.stderr, "no deliveries match")
		return nil
	}
	writeTable(printable{e.stdout}, termWidth(e), ds, time.Now())
	return nil
}

// termWidth is the terminal's width: $COLUMNS, else the size of stdout when
// it is a terminal, else 100.
func termWidth(e *env) int {
	if n, err := strconv.Atoi(e.getenv("COLUMNS")); err == nil && n > 20 {
		return n
	}
	if f, ok := e.stdout.(*os.File); ok && term.IsTerminal(f.Fd()) {
		if w, _, err := term.GetSize(f.Fd()); err == nil && w > 20 {
			return w
		}
	}
	return 100
}

// column is one column of the list table. When the table is wider than the
// terminal, the free-text columns shrink to their min (with an ellipsis),
// then the least useful columns are hidden.
type column struct {
	title  string
	min    int
	right  bool
	cells  []string
	width  int
	hidden bool
}

func writeTable(w io.Writer, width int, ds []*store.Delivery, now time.Time) {
	cols := []*column{
		{title: "ID", min: 8},
		{title: "RECEIVED", min: 8},
		{title: "STATUS", min: 6},
		{title: "ACTION", min: 12},
		{title: "ENTITY", min: 8},
		{title: "PATH", min: 4},
		{title: "DURATION", min: 8, right: true},
		{title: "SIG", min: 3},
		{title: "TRIES", min: 5, right: true},
	}
	today := now.Local().Format("2006-01-02")
	for _, d := range ds {
		recv := d.ReceivedAt.Local()
		when := recv.Format("01-02 15:04:05")
		if recv.Format("2006-01-02") == today {
			when = recv.Format("15:04:05")
		}
		status := d.StatusClass()
		if d.Status != 0 {
			status = strconv.Itoa(d.Status)
		}
		dur := "-"
		if d.Attempts > 0 {
			dur = tui.FormatMS(d.DurationMS) // as the TUI shows it
		}
		row := []string{d.ID, when, status, orDash(d.Action), orDash(d.EntityID), requestPath(d), dur, string(d.Signature), strconv.Itoa(d.Attempts)}
		for i, c := range cols {
			c.cells = append(c.cells, row[i])
		}
	}
	total := -2
	for _, c := range cols {
		c.width = utf8.RuneCountInString(c.title)
		for _, s := range c.cells {
			c.width = max(c.width, utf8.RuneCountInString(s))
		}
		total += c.width + 2
	}
	// Shrink the wide free-text columns first, then the ID.
	for _, i := range []int{5, 4, 3, 0} {
		if total <= width {
			break
		}
		c := cols[i]
		cut := min(total-width, c.width-c.min)
		if cut > 0 {
			c.width -= cut
			total -= cut
		}
	}
	// Still too wide: drop the columns that matter least.
	for _, i := range []int{8, 5, 7, 4} {
		if total <= width {
			break
		}
		total -= cols[i].width + 2
		cols[i].hidden = true
	}
	var b strings.Builder
	line := func(cell func(c *column) string) {
		b.Reset()
		first := true
		for _, c := range cols {
			if c.hidden {
				continue
			}
			if !first {
				b.WriteString("  ")
			}
			first = false
			s := truncate(cell(c), c.width)
			pad := strings.Repeat(" ", c.width-utf8.RuneCountInString(s))
			if c.right {
				b.WriteString(pad + s)
			} else {
				b.WriteString(s + pad)
			}
		}
		fmt.Fprintln(w, strings.TrimRight(b.String(), " "))
	}
	line(func(c *column) string { return c.title })
	for i := range ds {
		line(func(c *column) string { return c.cells[i] })
	}
}

func truncate(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	if n <= 1 {
		return string([]rune(s)[:n])
	}
	return string([]rune(s)[:n-1]) + "…"
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
