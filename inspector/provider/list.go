package provider

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// listQuery is a checked list request: what a pagination token carries, so
// that the token alone gives the next page ("pagination_token overrides all
// else", as Monite says).
type listQuery struct {
	Endpoint string            `json:"e"`
	Limit    int               `json:"l"`
	Order    string            `json:"o"`
	Sort     string            `json:"s"`
	Filters  map[string]string `json:"f,omitempty"`
	Offset   int               `json:"n"`
}

// page is a list answer in Monite's shape.
type page struct {
	Data []any   `json:"data"`
	Next *string `json:"next_pagination_token"`
	Prev *string `json:"prev_pagination_token"`
}

// The created_at filters every list takes.
var timeFilters = []string{"created_at__gt", "created_at__lt", "created_at__gte", "created_at__lte"}

const maxOffset = 1 << 30

// parseList reads limit, order, sort, the filters named in allowed and
// pagination_token, answering 422 itself.
func parseList(c *call, endpoint string, allowed []string) (*listQuery, bool) {
	q, err := url.ParseQuery(c.r.URL.RawQuery)
	if err != nil {
		c.invalid(loc("query"), "the query string is not valid: %v", err)
		return nil, false
	}
	if tok := q.Get("pagination_token"); tok != "" {
		lq, msg := decodeToken(tok, endpoint, allowed)
		if msg != "" {
			c.invalid(loc("query", "pagination_token"), "invalid pagination_token: %s", msg)
			return nil, false
		}
		return lq, true
	}
	lq := &listQuery{Endpoint: endpoint, Limit: 100, Order: "asc", Sort: "created_at", Filters: map[string]string{}}
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 100 {
			c.invalid(loc("query", "limit"), "limit must be an integer from 1 to 100, got %q", s)
			return nil, false
		}
		lq.Limit = n
	}
	if s := q.Get("order"); s != "" {
		lq.Order = s
	}
	if s := q.Get("sort"); s != "" {
		lq.Sort = s
	}
	for _, name := range allowed {
		if s := q.Get(name); s != "" {
			lq.Filters[name] = s
		}
	}
	if name, msg := lq.check(allowed); msg != "" {
		c.invalid(loc("query", name), "%s", msg)
		return nil, false
	}
	return lq, true
}

// check validates every field, as they may come from a token someone
// edited; it returns the offending parameter and why.
func (lq *listQuery) check(allowed []string) (string, string) {
	switch {
	case lq.Limit < 1 || lq.Limit > 100:
		return "limit", "limit must be from 1 to 100"
	case lq.Order != "asc" && lq.Order != "desc":
		return "order", "order must be asc or desc, got " + strconv.Quote(lq.Order)
	case lq.Sort != "created_at" && lq.Sort != "updated_at":
		return "sort", "sort must be created_at or updated_at, got " + strconv.Quote(lq.Sort)
	case lq.Offset < 0 || lq.Offset > maxOffset:
		return "pagination_token", "out of range"
	}
	for name, v := range lq.Filters {
		if !slices.Contains(allowed, name) {
			return name, "unknown filter"
		}
		if slices.Contains(timeFilters, name) {
			if _, ok := parseTime(v); !ok {
				return name, name + " must be a date-time such as 2026-11-30T12:00:00Z, got " + strconv.Quote(v)
			}
		} else if len(v) > 256 {
			return name, name + " is too long"
		}
	}
	return "", ""
}

func (lq *listQuery) token(offset int) *string {
	t := *lq
	t.Offset = offset
	b, _ := json.Marshal(t)
	s := base64.RawURLEncoding.EncodeToString(b)
	return &s
}

// decodeToken reads a token made by token, refusing anything else.
func decodeToken(tok, endpoint string, allowed []string) (*listQuery, string) {
	if len(tok) > 4096 {
		return nil, "too long"
	}
	b, err := base64.RawURLEncoding.DecodeString(tok)
	if err != nil {
		return nil, "not a token this emulator made"
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var lq listQuery
	if err := dec.Decode(&lq); err != nil || dec.More() {
		return nil, "not a token this emulator made"
	}
	if lq.Endpoint != endpoint {
		return nil, "made for another list"
	}
	if _, msg := lq.check(allowed); msg != "" {
		return nil, msg
	}
	return &lq, ""
}

// parseTime reads an ISO 8601 date-time (a zone-less one is UTC) or date.
func parseTime(s string) (time.Time, bool) {
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999", time.DateOnly} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}

// sqlList is the WHERE and ORDER BY of a list, for a table whose filter
// columns are given by name.
func (lq *listQuery) sql(columns map[string]string) (string, []any) {
	var where []string
	var args []any
	ops := map[string]string{"created_at__gt": ">", "created_at__lt": "<", "created_at__gte": ">=", "created_at__lte": "<="}
	names := make([]string, 0, len(lq.Filters))
	for name := range lq.Filters {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		v := lq.Filters[name]
		if op, ok := ops[name]; ok {
			t, _ := parseTime(v)
			where = append(where, "created_at "+op+" ?")
			args = append(args, t.UnixMicro())
			continue
		}
		where = append(where, columns[name]+" = ?")
		args = append(args, v)
	}
	clause := ""
	if len(where) > 0 {
		clause = " AND " + strings.Join(where, " AND ")
	}
	dir := strings.ToUpper(lq.Order) // checked: ASC or DESC
	sortCol := lq.Sort
	if c, ok := columns[lq.Sort]; ok {
		sortCol = c
	}
	clause += " ORDER BY " + sortCol + " " + dir + ", rowid " + dir + " LIMIT ? OFFSET ?"
	args = append(args, lq.Limit+1, lq.Offset)
	return clause, args
}

// answer sends one page of items, fetched with one more than the limit to
// know whether there is a next page.
func (lq *listQuery) answer(c *call, items []any) {
	p := page{Data: items}
	if len(items) > lq.Limit {
		p.Data = items[:lq.Limit]
		p.Next = lq.token(lq.Offset + lq.Limit)
	}
	if lq.Offset > 0 {
		p.Prev = lq.token(max(0, lq.Offset-lq.Limit))
	}
	if p.Data == nil {
		p.Data = []any{}
	}
	c.reply(http.StatusOK, p)
}

func (p *Provider) listSubs(c *call, kind string) {
	lq, ok := parseList(c, kind, append([]string{"object_type"}, timeFilters...))
	if !ok {
		return
	}
	clause, args := lq.sql(map[string]string{"object_type": "object_type"})
	rows, err := p.db.R.QueryContext(c.r.Context(), `SELECT `+subColumns+` FROM subscriptions WHERE kind = ?`+clause, append([]any{kind}, args...)...)
	if err != nil {
		c.fail(http.StatusInternalServerError, "list: %v", err)
		return
	}
	defer rows.Close()
	var items []any
	for rows.Next() {
		s, err := scanSub(rows)
		if err != nil {
			c.fail(http.StatusInternalServerError, "list: %v", err)
			return
		}
		items = append(items, s.shown())
	}
	lq.answer(c, items)
}
