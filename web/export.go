package web

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/hooktap/hooktap/inspector/store"
)

// Export sizes of GET /api/export.
const (
	defaultExport = 1000
	maxExport     = 100000
)

func (s *Server) handleCurl(w http.ResponseWriter, r *http.Request) {
	d, err := s.store.Get(r.Context(), r.PathValue("id"))
	if err != nil {
		s.storeError(w, err)
		return
	}
	target, err := store.CurlTarget(d, strings.TrimSpace(r.URL.Query().Get("to")))
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	fmt.Fprintln(w, store.CurlCommand(d, target))
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
	q, err := store.ParseFilter(v.Get("q"), time.Now())
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	limit := 0 // JSON lines: every match unless a limit is asked for
	if format == "har" {
		limit = defaultExport
	}
	if l := v.Get("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 {
			writeError(w, http.StatusBadRequest, "bad limit "+strconv.Quote(l)+": use a number from 1 to "+strconv.Itoa(maxExport))
			return
		}
		limit = min(n, maxExport)
	}
	// The newest limit matches, written oldest first, as `hooktap events
	// export --limit` writes them.
	q.Limit = limit
	stamp := time.Now().UTC().Format("20060102-150405")
	w.Header().Set("Cache-Control", "no-store")
	if format == "json" {
		// hooktap's own export (see store.Record): JSON lines, which
		// `hooktap events import` reads back.
		w.Header().Set("Content-Type", "application/x-ndjson; charset=utf-8")
		w.Header().Set("Content-Disposition", `attachment; filename="hooktap-`+stamp+`.jsonl"`)
		if _, err := s.store.Export(r.Context(), w, q); err != nil {
			s.log.Warn("web export", "err", err) // mid-stream: the client sees a truncated file
		}
		return
	}

	// The same log `hooktap events export --format har` writes.
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="hooktap-`+stamp+`.har"`)
	if _, err := s.store.ExportHAR(r.Context(), w, q, s.version); err != nil {
		s.log.Warn("web export", "err", err) // mid-stream: the client sees a truncated file
	}
}
