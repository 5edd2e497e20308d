package main

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/hooktap/hooktap/inspector/store"
)

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
	st, err := readStore(ctx, *db)
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
	limit := 0 // all of every body, into a pipe or a file
	if isTerminal(e.stdout) {
		limit = termBodyLimit
	}
	writeDelivery(printable{e.stdout}, d, limit)
	return nil
}

// termBodyLimit bounds how much of each body events show prints on a
// terminal: a 5 MiB body would scroll everything else away.
const termBodyLimit = 64 << 10

// writeDelivery prints d; limit > 0 bounds the bytes shown of each body.
func writeDelivery(w io.Writer, d *store.Delivery, limit int) {
	// No HTTP version: the relay does not record the sender's (d.Proto is
	// the scheme it was reached by, shown in from).
	fmt.Fprintf(w, "%s %s\n\n", d.Method, requestPath(d))
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
		host := d.Host
		if d.Proto != "" {
			host = d.Proto + "://" + host
		}
		from = strings.TrimSpace(from + " via " + host)
	}
	field("from", from)
	if d.Elsewhere != nil {
		field("last", d.Elsewhere.String())
	}

	fmt.Fprintln(w, "\nRequest headers")
	writeHeaders(w, d.Header, "  ")
	fmt.Fprintf(w, "\nRequest body (%d bytes)\n", len(d.Body))
	writeBody(w, d.Body, "  ", limit)

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
				writeBody(w, a.RequestBody, "       ", limit)
			}
		}
		if a.Status != 0 {
			fmt.Fprintln(w, "     response headers")
			writeHeaders(w, a.Header, "       ")
			fmt.Fprintf(w, "     response body (%d bytes)\n", len(a.Body))
			writeBody(w, a.Body, "       ", limit)
		}
	}
}

// requestPath is the path and query a delivery was sent to ("/" when the
// path is empty).
func requestPath(d *store.Delivery) string {
	path := d.Path
	if path == "" {
		path = "/"
	}
	if d.Query != "" {
		path += "?" + d.Query
	}
	return path
}

// writeHeaders prints h sorted by name, one value per line, each line
// after indent; "(none)" when h is empty and indent is set (in a listing).
func writeHeaders(w io.Writer, h http.Header, indent string) {
	if len(h) == 0 && indent != "" {
		fmt.Fprintln(w, indent+"(none)")
		return
	}
	for _, k := range slices.Sorted(maps.Keys(h)) {
		for _, v := range h[k] {
			fmt.Fprintf(w, "%s%s: %s\n", indent, k, v)
		}
	}
}

// writeBody prints b: JSON indented, other text as is and binary as a hex
// dump; limit > 0 shows at most limit bytes of that (whole lines when
// there are lines) and says how much was left out.
func writeBody(w io.Writer, b []byte, indent string, limit int) {
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
	text = strings.TrimRight(text, "\n")
	if limit > 0 && len(text) > limit {
		cut := limit
		for cut > 0 && !utf8.RuneStart(text[cut]) {
			cut--
		}
		if nl := strings.LastIndexByte(text[:cut], '\n'); nl > 0 {
			cut = nl // whole lines, when there are lines
		}
		defer fmt.Fprintf(w, "%s… %d more bytes not shown on a terminal (pipe it, e.g. | less, or use --json for all)\n", indent, len(text)-cut)
		text = text[:cut]
	}
	for _, l := range strings.Split(text, "\n") {
		fmt.Fprintln(w, indent+l)
	}
}
