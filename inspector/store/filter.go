package store

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/hooktap/hooktap/inspector/catalog"
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
			st, err := ParseStatus(value)
			if err != nil {
				return q, err
			}
			q.Status = st
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

// filterKeys are the keys ParseFilter knows, for FilterHint's suggestions.
var filterKeys = []string{"type", "object_type", "action", "event", "status", "entity", "entity_id", "since"}

// FilterHint says, for a filter that ParseFilter reads, when a term looks
// like a mistyped key ("stauts:5xx"): such a term is searched as text, and
// matches nothing where the user meant a key. "" when none does.
func FilterHint(s string) string {
	for _, term := range strings.Fields(s) {
		key, value, ok := strings.Cut(term, ":")
		if !ok || value == "" || len(key) < 3 || strings.Trim(strings.ToLower(key), "abcdefghijklmnopqrstuvwxyz_-") != "" {
			continue
		}
		k := strings.ReplaceAll(strings.ToLower(key), "-", "_")
		if slices.Contains(filterKeys, k) {
			continue
		}
		if near := catalog.Nearest(k, filterKeys, 1); len(near) > 0 {
			return fmt.Sprintf("%q is searched as text: did you mean %s:%s? (keys: type, action, status, entity, since)", term, near[0], value)
		}
	}
	return ""
}

// ParseSince reads an age ("15m", "2h", "3d", "2w": that long before now),
// a date ("2026-11-01", "2026-11-01 15:04") or an RFC 3339 time.
func ParseSince(s string, now time.Time) (time.Time, error) {
	s = strings.TrimSpace(s)
	if age, err := ParseAge(s); err == nil {
		return now.Add(-age), nil
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02 15:04", "2006-01-02"} {
		if t, err := time.ParseInLocation(layout, s, time.Local); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("bad since %q: use an age like 15m, 2h, 3d, 2w, or a date like 2026-11-01", s)
}

// ParseAge reads a positive age: a Go duration ("90m", "12h") or a whole
// number of days or weeks ("3d", "2w"). The filter's since:, --since and
// --keep all read ages with it.
func ParseAge(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	bad := fmt.Errorf("bad age %q: use a duration like 15m or 12h, or days or weeks like 3d or 2w", s)
	for _, u := range []struct {
		suffix string
		unit   time.Duration
	}{{"d", 24 * time.Hour}, {"w", 7 * 24 * time.Hour}} {
		if n, ok := strings.CutSuffix(s, u.suffix); ok {
			k, err := strconv.Atoi(n)
			if err != nil || k <= 0 || k > int(maxAge/u.unit) {
				return 0, bad
			}
			return time.Duration(k) * u.unit, nil
		}
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return 0, bad
	}
	return d, nil
}

// maxAge bounds ages so that their sums cannot overflow: a century.
const maxAge = 100 * 365 * 24 * time.Hour
