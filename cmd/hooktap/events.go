package main

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/charmbracelet/x/term"

	"github.com/hooktap/hooktap/inspector/store"
)

func cmdEvents(ctx context.Context, e *env, args []string) error {
	if len(args) == 0 {
		return usagef("events needs a subcommand: list, show, export, import or prune")
	}
	switch args[0] {
	case "list", "ls":
		return eventsList(ctx, e, args[1:])
	case "show":
		return eventsShow(ctx, e, args[1:])
	case "export":
		return eventsExport(ctx, e, args[1:])
	case "import":
		return eventsImport(ctx, e, args[1:])
	case "prune":
		return eventsPrune(ctx, e, args[1:])
	}
	return usagef("unknown events subcommand %q: use list, show, export, import or prune", args[0])
}

// filterFlags are the flags that select deliveries (list and export).
type filterFlags struct {
	q      store.Query
	since  string
	search string
}

func (f *filterFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.q.ObjectType, "object-type", "", "only this object type, e.g. payable")
	fs.StringVar(&f.q.Action, "action", "", "only actions matching this glob, e.g. payable.*")
	fs.StringVar(&f.q.EntityID, "entity-id", "", "only this entity")
	fs.Var(&f.q.Status, "status", "only this status: 2xx, 4xx, 5xx, error, pending or a code")
	fs.StringVar(&f.since, "since", "", "only deliveries received since: 15m, 2h, 3d or a date (2026-11-01)")
	fs.StringVar(&f.search, "search", "", "only deliveries whose body or headers contain these words")
}

// query checks the flags and merges them with a filter given as positional
// words in the filter language (type:payable status:5xx some text); the
// flags win.
func (f *filterFlags) query(pos []string, now time.Time) (store.Query, error) {
	q, err := store.ParseFilter(strings.Join(pos, " "), now)
	if err != nil {
		return q, usageError{err.Error()}
	}
	set := func(dst *string, v string) {
		if v != "" {
			*dst = v
		}
	}
	set(&q.ObjectType, f.q.ObjectType)
	set(&q.Action, f.q.Action)
	set(&q.EntityID, f.q.EntityID)
	if !f.q.Status.IsZero() {
		q.Status = f.q.Status
	}
	set(&q.Search, f.search)
	if q.Action != "" {
		if _, err := globOK(q.Action); err != nil {
			return q, usageError{err.Error()}
		}
	}
	if f.since != "" {
		if q.Since, err = store.ParseSince(f.since, now); err != nil {
			return q, usageError{err.Error()}
		}
	}
	return q, nil
}

// globOK checks a glob's brackets, which SQLite would otherwise take as
// matching nothing.
func globOK(g string) (bool, error) {
	if strings.Count(g, "[") != strings.Count(g, "]") {
		return false, fmt.Errorf("bad --action %q: unbalanced [ ]", g)
	}
	return true, nil
}

// openStore opens an existing store for reading commands, with a hint when
// there is none.
func openStore(ctx context.Context, path string) (*store.Store, error) {
	s, err := store.OpenExisting(ctx, path)
	if errors.Is(err, store.ErrNoStore) {
		return nil, fmt.Errorf("%w (nothing recorded yet: run hooktap dev or listen, or pass --db / HOOKTAP_DB)", err)
	}
	return s, err
}

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
	st, err := openStore(ctx, *db)
	if err != nil {
		return err
	}
	defer st.Close()
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
		fmt.Fprintln(e.stderr, "no deliveries match")
		return nil
	}
	writeTable(e.stdout, termWidth(e), ds, time.Now())
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
		{title: "TIME", min: 7, right: true},
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
			dur = fmt.Sprintf("%.1fms", d.DurationMS)
		}
		path := d.Path
		if path == "" {
			path = "/"
		}
		if d.Query != "" {
			path += "?" + d.Query
		}
		row := []string{d.ID, when, status, orDash(d.Action), orDash(d.EntityID), path, dur, string(d.Signature), strconv.Itoa(d.Attempts)}
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

func eventsShow(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "events show", "events show ID [--json]")
	db := dbFlag(fs, e)
	jsonOut := fs.Bool("json", false, "print the delivery as one JSON object")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef("events show needs one delivery id (a unique prefix is enough)")
	}
	st, err := openStore(ctx, *db)
	if err != nil {
		return err
	}
	defer st.Close()
	d, err := st.Get(ctx, pos[0])
	if err != nil {
		return err
	}
	if *jsonOut {
		enc := json.NewEncoder(e.stdout)
		enc.SetIndent("", "  ")
		enc.SetEscapeHTML(false)
		return enc.Encode(store.NewRecord(d))
	}
	writeDelivery(e.stdout, d)
	return nil
}

func writeDelivery(w io.Writer, d *store.Delivery) {
	path := d.Path
	if path == "" {
		path = "/"
	}
	if d.Query != "" {
		path += "?" + d.Query
	}
	proto := d.Proto
	if proto == "" {
		proto = "HTTP/1.1"
	}
	fmt.Fprintf(w, "%s %s %s\n\n", d.Method, path, proto)
	field := func(name, value string) {
		if value != "" {
			fmt.Fprintf(w, "  %-11s %s\n", name, value)
		}
	}
	field("id", d.ID)
	field("received", d.ReceivedAt.Local().Format("2006-01-02 15:04:05.000 MST"))
	field("channel", d.Channel)
	field("event", d.Action)
	field("object", strings.TrimSpace(d.ObjectType+" "+d.ObjectID))
	field("entity", d.EntityID)
	field("event id", d.EventID)
	sig := string(d.Signature)
	if d.Scheme != "" {
		sig += " (" + d.Scheme + ")"
	}
	if d.SignatureReason != "" {
		sig += ": " + d.SignatureReason
	}
	field("signature", sig)
	from := d.RemoteAddr
	if d.Host != "" {
		from = strings.TrimSpace(from + " via " + d.Host)
	}
	field("from", from)

	fmt.Fprintln(w, "\nRequest headers")
	writeHeaders(w, d.Header, "  ")
	fmt.Fprintf(w, "\nRequest body (%d bytes)\n", len(d.Body))
	writeBody(w, d.Body, "  ")

	fmt.Fprintf(w, "\nAttempts (%d)\n", len(d.History))
	if len(d.History) == 0 {
		fmt.Fprintln(w, "  not forwarded yet")
	}
	for i, a := range d.History {
		result := a.Error
		if a.Status != 0 {
			result = fmt.Sprintf("%d %s", a.Status, http.StatusText(a.Status))
		}
		fmt.Fprintf(w, "\n  #%d %s  %s  %s\n", i+1, a.Kind, a.StartedAt.Local().Format("2006-01-02 15:04:05"), a.Target)
		fmt.Fprintf(w, "     %s in %.1fms\n", result, a.DurationMS())
		if a.RequestHeader != nil || a.RequestBody != nil {
			fmt.Fprintln(w, "     sent headers")
			writeHeaders(w, a.RequestHeader, "       ")
			if a.RequestBody != nil {
				fmt.Fprintf(w, "     sent body (%d bytes)\n", len(a.RequestBody))
				writeBody(w, a.RequestBody, "       ")
			}
		}
		if a.Status != 0 {
			fmt.Fprintln(w, "     response headers")
			writeHeaders(w, a.Header, "       ")
			fmt.Fprintf(w, "     response body (%d bytes)\n", len(a.Body))
			writeBody(w, a.Body, "       ")
		}
	}
}

func writeHeaders(w io.Writer, h http.Header, indent string) {
	if len(h) == 0 {
		fmt.Fprintln(w, indent+"(none)")
		return
	}
	keys := make([]string, 0, len(h))
	for k := range h {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		for _, v := range h[k] {
			fmt.Fprintf(w, "%s%s: %s\n", indent, k, v)
		}
	}
}

// writeBody prints JSON indented, other text as is and binary as a hex dump.
func writeBody(w io.Writer, b []byte, indent string) {
	if len(b) == 0 {
		fmt.Fprintln(w, indent+"(empty)")
		return
	}
	var text string
	var pretty bytes.Buffer
	switch {
	case json.Valid(b) && json.Indent(&pretty, b, "", "  ") == nil:
		text = pretty.String()
	case utf8.Valid(b):
		text = string(b)
	default:
		text = hex.Dump(b)
	}
	for _, l := range strings.Split(strings.TrimRight(text, "\n"), "\n") {
		fmt.Fprintln(w, indent+l)
	}
}

func eventsExport(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "events export", "events export [--format json|har] [filters] > FILE")
	db := dbFlag(fs, e)
	format := fs.String("format", "json", "json (hooktap's lossless JSON lines, for import) or har (HAR 1.2)")
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
	if *format != "json" && *format != "har" {
		return usagef("bad --format %q: use json or har", *format)
	}
	st, err := openStore(ctx, *db)
	if err != nil {
		return err
	}
	defer st.Close()
	if *format == "har" {
		_, err = st.ExportHAR(ctx, e.stdout, q, buildVersion())
	} else {
		_, err = st.Export(ctx, e.stdout, q)
	}
	if err != nil {
		return fmt.Errorf("export: %w", err)
	}
	return nil
}

// importChunk is how many deliveries an import hands the writer at a time.
const importChunk = 1000

func eventsImport(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "events import", "events import FILE (an export; - for stdin)")
	db := fs.String("db", defaultDB(e), "SQLite file to import into, created if missing (or HOOKTAP_DB)")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef("events import needs one file (from hooktap events export), or - for stdin")
	}
	// The file is checked whole before anything is written.
	var open func() (io.ReadCloser, error)
	if pos[0] == "-" {
		data, err := io.ReadAll(e.stdin)
		if err != nil {
			return fmt.Errorf("read stdin: %w", err)
		}
		open = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil }
	} else {
		open = func() (io.ReadCloser, error) { return os.Open(pos[0]) }
	}
	r, err := open()
	if err != nil {
		return fmt.Errorf("import: %w", err)
	}
	n := 0
	err = store.ReadRecords(r, func(*store.Delivery) error { n++; return nil })
	r.Close()
	if err != nil {
		return fmt.Errorf("import %s: %w (nothing imported)", pos[0], err)
	}

	st, err := store.Open(ctx, *db)
	if err != nil {
		return err
	}
	defer st.Close()
	if r, err = open(); err != nil {
		return fmt.Errorf("import: %w", err)
	}
	defer r.Close()
	var total store.ImportStats
	chunk := make([]*store.Delivery, 0, importChunk)
	flush := func() error {
		st, err := st.Import(ctx, chunk)
		total.Deliveries += st.Deliveries
		total.Attempts += st.Attempts
		total.Skipped += st.Skipped
		chunk = chunk[:0]
		return err
	}
	err = store.ReadRecords(r, func(d *store.Delivery) error {
		chunk = append(chunk, d)
		if len(chunk) == importChunk {
			return flush()
		}
		return nil
	})
	if err == nil {
		err = flush()
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "imported %d deliveries and %d attempts into %s (%d already there)\n",
		total.Deliveries, total.Attempts, st.Path(), total.Skipped)
	return nil
}

// parseKeep reads a retention age: "30d", "2w", or a Go duration like "12h".
func parseKeep(s string) (time.Duration, error) {
	d, err := store.ParseAge(s)
	if err != nil {
		return 0, fmt.Errorf("bad --keep %q: use an age like 30d, 2w or 12h", s)
	}
	return d, nil
}

// retentionFlags are --keep and --max-deliveries (listen, dev, events prune).
type retentionFlags struct {
	keep string
	max  int64
}

func (f *retentionFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.keep, "keep", "", "delete deliveries older than this: 30d, 2w, 12h")
	fs.Int64Var(&f.max, "max-deliveries", 0, "keep only the newest N deliveries")
}

func (f *retentionFlags) retention() (store.Retention, error) {
	var r store.Retention
	if f.keep != "" {
		d, err := parseKeep(f.keep)
		if err != nil {
			return r, usageError{err.Error()}
		}
		r.MaxAge = d
	}
	if f.max < 0 {
		return r, usagef("--max-deliveries must be positive")
	}
	r.MaxDeliveries = f.max
	return r, nil
}

func eventsPrune(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "events prune", "events prune [--keep 30d] [--max-deliveries N]")
	db := dbFlag(fs, e)
	var rf retentionFlags
	rf.register(fs)
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usagef("events prune takes no arguments, only --keep and --max-deliveries")
	}
	r, err := rf.retention()
	if err != nil {
		return err
	}
	if r.IsZero() {
		return usagef("events prune needs --keep AGE and/or --max-deliveries N")
	}
	st, err := openStore(ctx, *db)
	if err != nil {
		return err
	}
	defer st.Close()
	n, err := st.Prune(ctx, r, time.Now())
	if err != nil {
		return err
	}
	left, err := st.Count(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "pruned %d deliveries, %d left\n", n, left)
	return nil
}

// pruneEvery is how often a running agent applies --keep and
// --max-deliveries.
const pruneEvery = 5 * time.Minute

// startPruning applies the retention flags now and every pruneEvery until
// ctx ends or the returned stop is called; stop waits for a prune under way.
func startPruning(ctx context.Context, st *store.Store, rf retentionFlags, log *slog.Logger) (stop func()) {
	r, err := rf.retention()
	if err != nil || r.IsZero() {
		return func() {}
	}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(pruneEvery)
		defer t.Stop()
		for {
			n, err := st.Prune(ctx, r, time.Now())
			switch {
			case err != nil && ctx.Err() == nil:
				log.Warn("prune the store", "err", err)
			case n > 0:
				log.Debug("pruned the store", "deliveries", n)
			}
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	}()
	return func() {
		cancel()
		<-done
	}
}
