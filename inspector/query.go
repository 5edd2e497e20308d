package inspector

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Query selects deliveries, newest first. Zero fields do not filter.
type Query struct {
	ObjectType string    // exact
	Action     string    // glob: "payable.*"
	EntityID   string    // exact
	Status     string    // "2xx", "4xx", "5xx", "error", "pending" or a code
	Since      time.Time // received at or after
	Search     string    // full text over bodies and headers
	Before     int64     // only deliveries older than this seq (paging)
	Limit      int       // default 50
}

// ParseStatus checks a status filter value.
func ParseStatus(s string) error {
	_, _, err := statusClause(s)
	return err
}

func statusClause(s string) (string, []any, error) {
	s = strings.ToLower(strings.TrimSpace(s))
	switch s {
	case "":
		return "", nil, nil
	case "error", "err":
		return "status = 0 AND attempts > 0", nil, nil
	case "pending":
		return "attempts = 0", nil, nil
	case "1xx", "2xx", "3xx", "4xx", "5xx":
		lo := int(s[0]-'0') * 100
		return "status >= ? AND status < ?", []any{lo, lo + 100}, nil
	}
	code, err := strconv.Atoi(s)
	if err != nil || code < 100 || code > 999 {
		return "", nil, fmt.Errorf("bad status %q: use 2xx, 4xx, 5xx, error, pending or a code like 404", s)
	}
	return "status = ?", []any{code}, nil
}

// where builds the WHERE clause of q.
func (q Query) where() (string, []any, error) {
	var conds []string
	var args []any
	add := func(c string, a ...any) {
		conds = append(conds, c)
		args = append(args, a...)
	}
	if q.ObjectType != "" {
		add("object_type = ?", q.ObjectType)
	}
	if q.Action != "" {
		if strings.ContainsAny(q.Action, "*?[") {
			add("action GLOB ?", q.Action)
		} else {
			add("action = ?", q.Action)
		}
	}
	if q.EntityID != "" {
		add("entity_id = ?", q.EntityID)
	}
	if q.Status != "" {
		c, a, err := statusClause(q.Status)
		if err != nil {
			return "", nil, err
		}
		add(c, a...)
	}
	if !q.Since.IsZero() {
		add("received_at >= ?", q.Since.UnixMicro())
	}
	if q.Before > 0 {
		add("seq < ?", q.Before)
	}
	if q.Search != "" {
		c, a := searchClause(q.Search)
		add(c, a...)
	}
	if len(conds) == 0 {
		return "", nil, nil
	}
	return " WHERE " + strings.Join(conds, " AND "), args, nil
}

// searchClause matches text in bodies and headers. It is a plain substring
// scan until the store grows a full-text index.
func searchClause(text string) (string, []any) {
	pat := "%" + strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(text) + "%"
	return `(CAST(body AS TEXT) LIKE ? ESCAPE '\' OR CAST(header AS TEXT) LIKE ? ESCAPE '\')`, []any{pat, pat}
}

// List returns the deliveries q selects, newest first, without headers,
// bodies or attempts.
func (s *Store) List(ctx context.Context, q Query) ([]*Delivery, error) {
	where, args, err := q.where()
	if err != nil {
		return nil, err
	}
	limit := q.Limit
	if limit <= 0 {
		limit = 50
	}
	rows, err := s.db.R.QueryContext(ctx, `SELECT `+summaryColumns+` FROM deliveries`+where+` ORDER BY seq DESC LIMIT ?`,
		append(args, limit)...)
	if err != nil {
		return nil, fmt.Errorf("list deliveries: %w", err)
	}
	defer rows.Close()
	var out []*Delivery
	for rows.Next() {
		d, err := scanSummary(rows)
		if err != nil {
			return nil, fmt.Errorf("list deliveries: %w", err)
		}
		out = append(out, d)
	}
	return out, rows.Err()
}
