package web

import (
	"encoding/base64"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/hooktap/hooktap/inspector"
)

// Export sizes of GET /api/export.
const (
	defaultExport = 1000
	maxExport     = 100000
)

// targetURL is where a delivery went (its latest attempt), or where it
// would go at base to.
func targetURL(d *inspector.Delivery, to string) (string, error) {
	if to != "" {
		f, err := inspector.NewForwarder(to, 0)
		if err != nil {
			return "", err
		}
		u, err := f.URL(d.Path, d.Query)
		if err != nil {
			return "", err
		}
		return u.String(), nil
	}
	for _, a := range d.History {
		if a.Kind == inspector.KindForward && a.Target != "" {
			return a.Target, nil
		}
	}
	if d.Target != "" {
		return d.Target, nil
	}
	host := d.Host
	if host == "" {
		host = "localhost"
	}
	u := url.URL{Scheme: "http", Host: host, Path: "/", RawQuery: d.Query}
	if d.Path != "" {
		u.RawPath = d.Path
		if p, err := url.PathUnescape(d.Path); err == nil {
			u.Path = p
		} else {
			u.Path = d.Path
		}
	}
	return u.String(), nil
}

// skipHeader says which stored headers a re-sent request would not carry.
func skipHeader(name string) bool {
	switch http.CanonicalHeaderKey(name) {
	case "Host", "Content-Length", "Connection", "Keep-Alive", "Proxy-Connection", "Transfer-Encoding", "Te",
		"Trailer", "Upgrade", "Accept-Encoding":
		return true
	}
	return strings.HasPrefix(http.CanonicalHeaderKey(name), "X-Forwarded-")
}

func sortedKeys(h http.Header) []string {
	keys := make([]string, 0, len(h))
	for k := range h {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// shellQuote quotes s for a POSIX shell.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// curlCommand is a curl command line that replays d as it came.
func curlCommand(d *inspector.Delivery, to string) (string, error) {
	target, err := targetURL(d, to)
	if err != nil {
		return "", err
	}
	var b strings.Builder
	b.WriteString("curl -sS -i")
	if d.Method != "" && d.Method != "GET" {
		b.WriteString(" -X " + shellQuote(d.Method))
	}
	b.WriteString(" " + shellQuote(target))
	for _, k := range sortedKeys(d.Header) {
		if skipHeader(k) {
			continue
		}
		for _, v := range d.Header[k] {
			b.WriteString(" \\\n  -H " + shellQuote(k+": "+v))
		}
	}
	if len(d.Body) > 0 {
		if utf8.Valid(d.Body) {
			b.WriteString(" \\\n  --data-binary " + shellQuote(string(d.Body)))
		} else {
			b.WriteString(" \\\n  --data-binary @<(printf %s " + shellQuote(base64.StdEncoding.EncodeToString(d.Body)) + " | base64 -d)")
		}
	}
	return b.String(), nil
}

func (s *Server) handleCurl(w http.ResponseWriter, r *http.Request) {
	d, err := s.store.Get(r.Context(), r.PathValue("id"))
	if err != nil {
		s.storeError(w, err)
		return
	}
	cmd, err := curlCommand(d, strings.TrimSpace(r.URL.Query().Get("to")))
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	fmt.Fprintln(w, cmd)
}

// handleExport streams the deliveries a filter selects in full: as
// hooktap's importable JSON lines, or as HAR.
func (s *Server) handleExport(w http.ResponseWriter, r *http.Request) {
	v := r.URL.Query()
	format := v.Get("format")
	if format == "" {
		format = "json"
	}
	if format != "json" && format != "har" {
		writeError(w, http.StatusBadRequest, "bad format "+strconv.Quote(format)+": use json or har")
		return
	}
	q, err := inspector.ParseFilter(v.Get("q"), time.Now())
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	limit := defaultExport
	if l := v.Get("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 {
			writeError(w, http.StatusBadRequest, "bad limit "+strconv.Quote(l)+": use a number from 1 to "+strconv.Itoa(maxExport))
			return
		}
		limit = min(n, maxExport)
	}
	stamp := time.Now().UTC().Format("20060102-150405")
	w.Header().Set("Cache-Control", "no-store")
	if format == "json" {
		// hooktap's own export (see inspector.Record): JSON lines, oldest
		// first, every match, which `hooktap events import` reads back.
		w.Header().Set("Content-Type", "application/x-ndjson; charset=utf-8")
		w.Header().Set("Content-Disposition", `attachment; filename="hooktap-`+stamp+`.jsonl"`)
		if _, err := s.store.Export(r.Context(), w, q); err != nil {
			s.log.Warn("web export", "err", err) // mid-stream: the client sees a truncated file
		}
		return
	}

	// HAR of the newest limit matches, the same log `hooktap events export
	// --format har` writes.
	q.Limit = limit
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="hooktap-`+stamp+`.har"`)
	if _, err := s.store.ExportHAR(r.Context(), w, q, s.version); err != nil {
		s.log.Warn("web export", "err", err) // mid-stream: the client sees a truncated file
	}
}
