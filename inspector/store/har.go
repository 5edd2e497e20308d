package store

import (
	"bufio"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"unicode/utf8"
)

// HAR 1.2 (http://www.softwareishard.com/blog/har-12-spec/): the subset of
// the log that hooktap fills. Fields with a leading underscore are custom,
// which the spec allows.
type (
	harCreator struct {
		Name    string `json:"name"`
		Version string `json:"version"`
	}
	harEntry struct {
		StartedDateTime string      `json:"startedDateTime"`
		Time            float64     `json:"time"`
		Request         harRequest  `json:"request"`
		Response        harResponse `json:"response"`
		Cache           struct{}    `json:"cache"`
		Timings         harTimings  `json:"timings"`
		Comment         string      `json:"comment,omitempty"`
		DeliveryID      string      `json:"_deliveryId"`
		Kind            string      `json:"_kind,omitempty"`
		Error           string      `json:"_error,omitempty"`
	}
	harRequest struct {
		Method      string       `json:"method"`
		URL         string       `json:"url"`
		HTTPVersion string       `json:"httpVersion"`
		Cookies     []harNV      `json:"cookies"`
		Headers     []harNV      `json:"headers"`
		QueryString []harNV      `json:"queryString"`
		PostData    *harPostData `json:"postData,omitempty"`
		HeadersSize int          `json:"headersSize"`
		BodySize    int          `json:"bodySize"`
	}
	harPostData struct {
		MimeType string  `json:"mimeType"`
		Params   []harNV `json:"params"`
		Text     string  `json:"text"`
		// Encoding is not in HAR 1.2's postData (only in content); tools that
		// know it (like for content) read base64, the others see the text.
		Encoding string `json:"_encoding,omitempty"`
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
	}
	harContent struct {
		Size     int    `json:"size"`
		MimeType string `json:"mimeType"`
		Text     string `json:"text,omitempty"`
		Encoding string `json:"encoding,omitempty"`
	}
	harTimings struct {
		Send    float64 `json:"send"`
		Wait    float64 `json:"wait"`
		Receive float64 `json:"receive"`
	}
	harNV struct {
		Name  string `json:"name"`
		Value string `json:"value"`
	}
)

func harHeaders(h http.Header) []harNV {
	out := []harNV{}
	for _, k := range slices.Sorted(maps.Keys(h)) {
		for _, v := range h[k] {
			out = append(out, harNV{k, v})
		}
	}
	return out
}

func harQuery(raw string) []harNV {
	out := []harNV{}
	for _, part := range strings.Split(raw, "&") {
		if part == "" {
			continue
		}
		k, v, _ := strings.Cut(part, "=")
		if uk, err := url.QueryUnescape(k); err == nil {
			k = uk
		}
		if uv, err := url.QueryUnescape(v); err == nil {
			v = uv
		}
		out = append(out, harNV{k, v})
	}
	return out
}

func harText(b []byte) (string, string) {
	if utf8.Valid(b) {
		return string(b), ""
	}
	return base64.StdEncoding.EncodeToString(b), "base64"
}

func mimeOf(h http.Header) string {
	ct := h.Get("Content-Type")
	if ct == "" {
		return "application/octet-stream"
	}
	return ct
}

// harEntries is one entry per attempt of d, or one with no response (status
// 0, as browsers record a failed request) when d was never forwarded.
func harEntries(d *Delivery) []harEntry {
	attempts := d.History
	if len(attempts) == 0 {
		// The request as it reached the relay.
		u := url.URL{Scheme: "http", Host: d.Host, Path: "/h/" + d.Channel + d.Path, RawQuery: d.Query}
		attempts = []*Attempt{{Target: u.String(), StartedAt: d.ReceivedAt, Error: "not forwarded"}}
	}
	var out []harEntry
	for _, a := range attempts {
		hdr, body := d.Header, d.Body
		if a.RequestHeader != nil {
			hdr = a.RequestHeader
		}
		if a.RequestBody != nil {
			body = a.RequestBody
		}
		target := a.Target
		query := d.Query
		if u, err := url.Parse(target); err == nil && u.IsAbs() {
			query = u.RawQuery
		}
		// Every attempt went to the app over HTTP/1.1 (the forwarder speaks
		// nothing else); d.Proto is the scheme the relay was reached by.
		req := harRequest{
			Method: d.Method, URL: target, HTTPVersion: "HTTP/1.1", Cookies: []harNV{}, Headers: harHeaders(hdr),
			QueryString: harQuery(query), HeadersSize: -1, BodySize: len(body),
		}
		if body != nil {
			text, enc := harText(body)
			req.PostData = &harPostData{MimeType: mimeOf(hdr), Params: []harNV{}, Text: text, Encoding: enc}
		}
		resp := harResponse{
			Status: a.Status, HTTPVersion: "HTTP/1.1", Cookies: []harNV{}, Headers: harHeaders(a.Header),
			HeadersSize: -1, BodySize: -1,
			Content: harContent{Size: len(a.Body), MimeType: mimeOf(a.Header)},
		}
		if a.Status != 0 {
			resp.StatusText = http.StatusText(a.Status)
			resp.BodySize = len(a.Body)
			resp.RedirectURL = a.Header.Get("Location")
			resp.Content.Text, resp.Content.Encoding = harText(a.Body)
		}
		ms := a.DurationMS()
		out = append(out, harEntry{
			StartedDateTime: a.StartedAt.UTC().Format("2006-01-02T15:04:05.000000Z07:00"),
			Time:            ms,
			Request:         req,
			Response:        resp,
			Timings:         harTimings{Send: 0, Wait: ms, Receive: 0},
			DeliveryID:      d.ID,
			Kind:            string(a.Kind),
			Error:           a.Error,
		})
	}
	return out
}

// ExportHAR writes the deliveries q selects (with q.Limit > 0, the newest
// q.Limit of them) as one HAR 1.2 log, one entry per attempt (request as
// sent to the app, and its response), oldest first, as Export orders them
// and as a HAR's entries are in time order.
// version goes into the log's creator.
func (s *Store) ExportHAR(ctx context.Context, w io.Writer, q Query, version string) (int, error) {
	// Entries are streamed: the log's head and tail are written around them
	// so that a large export is not held in memory.
	bw := bufio.NewWriter(w)
	head, _ := json.Marshal(harCreator{Name: "hooktap", Version: version})
	bw.WriteString(`{"log":{"version":"1.2","creator":`)
	bw.Write(head)
	bw.WriteString(`,"entries":[`)
	n := 0
	err := s.Each(ctx, q, func(d *Delivery) error {
		for _, e := range harEntries(d) {
			b, err := json.Marshal(e)
			if err != nil {
				return err
			}
			if n > 0 {
				bw.WriteByte(',')
			}
			bw.WriteString("\n")
			bw.Write(b)
			n++
		}
		return nil
	})
	if err != nil {
		return n, err
	}
	bw.WriteString("\n]}}\n")
	return n, bw.Flush()
}
