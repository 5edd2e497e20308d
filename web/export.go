package web

import (
	"encoding/base64"
	"encoding/json"
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

	// HAR, newest first, at most limit entries. Read the ids first: a long
	// export must not hold one read open.
	var ids []string
	for len(ids) < limit {
		q.Limit = min(maxLimit, limit-len(ids))
		page, err := s.store.List(r.Context(), q)
		if err != nil {
			s.storeError(w, err)
			return
		}
		for _, d := range page {
			ids = append(ids, d.ID)
		}
		if len(page) < q.Limit {
			break
		}
		q.Before = page[len(page)-1].Seq
	}

	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="hooktap-`+stamp+`.har"`)
	w.Write([]byte(`{"log":{"version":"1.2","creator":{"name":"hooktap","version":` + strconv.Quote(s.version) + `},"entries":[`))
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	for i, id := range ids {
		d, err := s.store.Get(r.Context(), id)
		if err != nil {
			s.log.Warn("web export", "id", id, "err", err)
			return // the client sees a truncated document rather than a lie
		}
		if i > 0 {
			w.Write([]byte(","))
		}
		enc.Encode(harEntry(d))
	}
	w.Write([]byte("]}}\n"))
}

// HAR 1.2 (http://www.softwareishard.com/blog/har-12-spec/), one entry per
// delivery: the request as it came, the latest attempt's response.
type (
	harNV struct {
		Name  string `json:"name"`
		Value string `json:"value"`
	}
	harPost struct {
		MimeType string `json:"mimeType"`
		Text     string `json:"text"`
		Encoding string `json:"encoding,omitempty"` // hooktap: "base64" for binary bodies
	}
	harRequest struct {
		Method      string   `json:"method"`
		URL         string   `json:"url"`
		HTTPVersion string   `json:"httpVersion"`
		Cookies     []harNV  `json:"cookies"`
		Headers     []harNV  `json:"headers"`
		QueryString []harNV  `json:"queryString"`
		PostData    *harPost `json:"postData,omitempty"`
		HeadersSize int      `json:"headersSize"`
		BodySize    int      `json:"bodySize"`
	}
	harContent struct {
		Size     int    `json:"size"`
		MimeType string `json:"mimeType"`
		Text     string `json:"text,omitempty"`
		Encoding string `json:"encoding,omitempty"`
	}
	harResponse struct {
		Status      int        `json:"status"`
		StatusText  string     `json:"statusText"`
		HTTPVersion string     `json:"httpVersion"`
		Cookies     []harNV    `json:"cookies"`
		Headers     []harNV    `json:"headers"`
		Content     harContent `json:"content"`
		RedirectURL string     `json:"redirectURL"`
		HeadersSize int        `json:"headersSize"`
		BodySize    int        `json:"bodySize"`
		Error       string     `json:"_error,omitempty"`
	}
	harTimings struct {
		Send    float64 `json:"send"`
		Wait    float64 `json:"wait"`
		Receive float64 `json:"receive"`
	}
	harEntryJSON struct {
		StartedDateTime string      `json:"startedDateTime"`
		Time            float64     `json:"time"`
		Request         harRequest  `json:"request"`
		Response        harResponse `json:"response"`
		Cache           struct{}    `json:"cache"`
		Timings         harTimings  `json:"timings"`
		Comment         string      `json:"comment,omitempty"`
		ID              string      `json:"_id"`
		Attempts        int         `json:"_attempts"`
		Signature       string      `json:"_signature"`
	}
)

func harHeaders(h http.Header) []harNV {
	out := []harNV{}
	for _, k := range sortedKeys(h) {
		for _, v := range h[k] {
			out = append(out, harNV{k, v})
		}
	}
	return out
}

func harEntry(d *inspector.Delivery) harEntryJSON {
	target, _ := targetURL(d, "")
	e := harEntryJSON{
		StartedDateTime: d.ReceivedAt.UTC().Format(time.RFC3339Nano),
		Request: harRequest{
			Method: d.Method, URL: target, HTTPVersion: "HTTP/1.1", Cookies: []harNV{},
			Headers: harHeaders(d.Header), QueryString: []harNV{}, HeadersSize: -1, BodySize: len(d.Body),
		},
		Response: harResponse{
			StatusText: "", HTTPVersion: "HTTP/1.1", Cookies: []harNV{}, Headers: []harNV{},
			Content: harContent{MimeType: ""}, HeadersSize: -1, BodySize: -1,
		},
		Comment: d.Action, ID: d.ID, Attempts: d.Attempts, Signature: d.Signature,
	}
	if vals, err := url.ParseQuery(d.Query); err == nil {
		for _, k := range sortedKeys(http.Header(vals)) {
			for _, v := range vals[k] {
				e.Request.QueryString = append(e.Request.QueryString, harNV{k, v})
			}
		}
	}
	if len(d.Body) > 0 || d.Method == http.MethodPost || d.Method == http.MethodPut || d.Method == http.MethodPatch {
		p := &harPost{MimeType: d.Header.Get("Content-Type")}
		if b := encodeBody(d.Body); b.Encoding == "base64" {
			p.Text, p.Encoding = b.Body, "base64"
		} else {
			p.Text = b.Body
		}
		e.Request.PostData = p
	}
	if n := len(d.History); n > 0 {
		a := d.History[n-1]
		e.Time = a.DurationMS()
		e.Timings.Wait = a.DurationMS()
		e.Response.Status = a.Status
		e.Response.StatusText = http.StatusText(a.Status)
		e.Response.Headers = harHeaders(a.Header)
		e.Response.BodySize = len(a.Body)
		e.Response.Error = a.Error
		c := harContent{Size: len(a.Body), MimeType: a.Header.Get("Content-Type")}
		if b := encodeBody(a.Body); b.Encoding == "base64" {
			c.Text, c.Encoding = b.Body, "base64"
		} else {
			c.Text = b.Body
		}
		e.Response.Content = c
	}
	return e
}
