package store

import (
	"fmt"
	"strings"
	"time"
)

// ParseFilter reads the filter language shared by the TUI, the web
// inspector and the CLI: space-separated terms, each either key:value or
// free text (searched in bodies and headers).
//
//	type:payable  action:payable.*  status:5xx  entity:<id>  since:15m  some text
//
// Keys: type (object_type), action (glob), status (2xx, 4xx, 5xx, error,
// pending or a code), entity (entity_id), since (a duration or a date).
// Free-text terms are joined with spaces. now anchors relative since values.
func ParseFilter(s string, now time.Time) (Query, error) {
	var q Query
	var text []string
	for _, term := range strings.Fields(s) {
		key, value, ok := strings.Cut(term, ":")
		if !ok || value == "" {
			text = append(text, term)
			continue
		}
		switch strings.ToLower(key) {
		case "type", "object_type", "object-type":
			q.ObjectType = value
		case "action", "event":
			q.Action = value
		case "status":
			if err := ParseStatus(value); err != nil {
				return q, err
			}
			q.Status = value
		case "entity", "entity_id", "entity-id":
			q.EntityID = value
		case "since":
			t, err := ParseSince(value, now)
			if err != nil {
				return q, err
			}
			q.Since = t
		default:
			text = append(text, term) // "http://..." or "a:b" in a body
		}
	}
	q.Search = strings.Join(text, " ")
	return q, nil
}

// ParseSince reads "15m", "2h", "3d", "2026-11-01" or an RFC 3339 time.
func ParseSince(s string, now time.Time) (time.Time, error) {
	s = strings.TrimSpace(s)
	if strings.HasSuffix(s, "d") {
		var days int
		if _, err := fmt.Sscanf(s, "%dd", &days); err == nil && days >= 0 {
			return now.Add(-time.Duration(days) * 24 * time.Hour), nil
		}
	}
	if d, err := time.ParseDuration(s); err == nil && d >= 0 {
		return now.Add(-d), nil
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02 15:04", "2006-01-02"} {
		if t, err := time.ParseInLocation(layout, s, time.Local); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("bad since %q: use a duration like 15m, 2h, 3d, or a date like 2026-11-01", s)
}
