// Package payload reads the few fields hooktap shows and filters on from a
// webhook request: Monite-style JSON bodies ({action, object_type,
// entity_id, object_id | object.id, id}) and Monk's X-Monk-* headers. It
// never changes the body and never fails: what it cannot read stays empty.
package payload

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Fields are what a delivery is about.
type Fields struct {
	ObjectType string `json:"object_type,omitempty"`
	Action     string `json:"action,omitempty"`
	EntityID   string `json:"entity_id,omitempty"`
	ObjectID   string `json:"object_id,omitempty"`
	EventID    string `json:"event_id,omitempty"`
}

// body is the subset of a Monite event body that is read. Values that are
// not strings are ignored rather than failing the whole parse.
type body struct {
	ID         flexString `json:"id"`
	Action     flexString `json:"action"`
	ObjectType flexString `json:"object_type"`
	EntityID   flexString `json:"entity_id"`
	ObjectID   flexString `json:"object_id"`
	Object     *struct {
		ID flexString `json:"id"`
	} `json:"object"`
	// Monk and similar flat camelCase bodies
	Type flexString `json:"type"`
}

// flexString accepts a JSON string and ignores any other JSON value.
type flexString string

func (f *flexString) UnmarshalJSON(b []byte) error {
	// json.Unmarshal has checked b: a string without escapes holds no
	// control character nor quote, and, when its bytes are valid UTF-8,
	// decodes to itself. Most do; decoding them again costs 6 allocations.
	if len(b) >= 2 && b[0] == '"' && bytes.IndexByte(b, '\\') < 0 && utf8.Valid(b[1:len(b)-1]) {
		*f = flexString(b[1 : len(b)-1])
		return nil
	}
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return nil
		}
		*f = flexString(s)
	}
	return nil
}

// maxField bounds what is kept of any one field, so a hostile body cannot
// make an index entry of megabytes.
const maxField = 256

// clip is a field as hooktap keeps it: at most maxField bytes (whole
// characters), valid UTF-8, and no control characters, which a sender could
// otherwise use to put escape sequences on a developer's terminal.
func clip(s flexString) string {
	str := strings.ToValidUTF8(string(s), "\uFFFD")
	if len(str) > maxField {
		cut := maxField
		for cut > 0 && !utf8.RuneStart(str[cut]) {
			cut--
		}
		str = str[:cut]
	}
	return strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return unicode.ReplacementChar
		}
		return r
	}, str)
}

// Parse extracts the fields from a request's headers and body.
func Parse(h http.Header, raw []byte) Fields {
	var f Fields
	trimmed := bytes.TrimLeft(raw, " \t\r\n")
	if len(trimmed) > 0 && trimmed[0] == '{' {
		var b body
		// A syntax error leaves b as far as it was filled; type errors are
		// swallowed by flexString.
		_ = json.Unmarshal(trimmed, &b)
		f.Action = clip(b.Action)
		if f.Action == "" {
			f.Action = clip(b.Type)
		}
		f.ObjectType = clip(b.ObjectType)
		f.EntityID = clip(b.EntityID)
		f.ObjectID = clip(b.ObjectID)
		if f.ObjectID == "" && b.Object != nil {
			f.ObjectID = clip(b.Object.ID)
		}
		f.EventID = clip(b.ID)
	}
	if ev := h.Get("X-Monk-Event"); ev != "" {
		// Monk: the event is in a header; the body's id is the object's.
		f.Action = clipStr(ev)
		if f.ObjectID == "" {
			f.ObjectID = f.EventID
		}
		f.EventID = clipStr(h.Get("X-Monk-Delivery-Id"))
	}
	if f.ObjectType == "" {
		if i := strings.IndexByte(f.Action, '.'); i > 0 {
			f.ObjectType = f.Action[:i]
		}
	}
	return f
}

func clipStr(s string) string { return clip(flexString(s)) }
