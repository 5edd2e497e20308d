// Package jsonedit edits one value in a JSON document by a dotted path,
// keeping the order of existing keys and the bytes of everything it does
// not touch (the result is compacted).
package jsonedit

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Errors callers can branch on with errors.Is.
var (
	ErrNotJSON    = errors.New("document is not valid JSON")
	ErrOutOfRange = errors.New("index out of range")
	ErrNotObject  = errors.New("path goes through a value that is neither an object nor an array")
	ErrBadPath    = errors.New("bad path")
)

// Set returns doc with the value at path replaced by value, creating missing
// object keys on the way.
//
// The path is dotted: "object.status", "items.0.amount"; a backslash escapes
// the next character, so "metadata.a\.b" names the key "a.b". A segment
// indexes an array when it is a non-negative integer and the value there is
// an array; an object key otherwise.
//
// value is used as JSON when it is valid JSON (42, true, null,
// {"a":1}, "quoted"), else as a string. The result is compact JSON.
func Set(doc []byte, path string, value string) ([]byte, error) {
	if !json.Valid(doc) {
		return nil, ErrNotJSON
	}
	segs, err := splitPath(path)
	if err != nil {
		return nil, err
	}
	v, err := encodeValue(value)
	if err != nil {
		return nil, err
	}
	out, err := set(bytes.TrimSpace(doc), segs, v, 0)
	if err != nil {
		return nil, fmt.Errorf("set %s: %w", path, err)
	}
	var b bytes.Buffer
	if err := json.Compact(&b, out); err != nil {
		return nil, fmt.Errorf("set %s: compact: %w", path, err)
	}
	return b.Bytes(), nil
}

// ParseAssignment splits "path=value" at the first '=' that is not escaped
// with a backslash. The path keeps its escapes, ready for Set.
func ParseAssignment(s string) (path, value string, err error) {
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++
		case '=':
			if i == 0 {
				return "", "", fmt.Errorf("%w: %q has an empty path", ErrBadPath, s)
			}
			return s[:i], s[i+1:], nil
		}
	}
	return "", "", fmt.Errorf("%w: %q is not path=value", ErrBadPath, s)
}

// splitPath splits a dotted path, undoing backslash escapes.
func splitPath(path string) ([]string, error) {
	if path == "" {
		return nil, fmt.Errorf("%w: empty", ErrBadPath)
	}
	if !utf8.ValidString(path) {
		return nil, fmt.Errorf("%w: not valid UTF-8", ErrBadPath)
	}
	var (
		segs []string
		cur  strings.Builder
	)
	for i := 0; i < len(path); i++ {
		switch c := path[i]; c {
		case '\\':
			if i+1 == len(path) {
				return nil, fmt.Errorf("%w: %q ends in a lone backslash", ErrBadPath, path)
			}
			i++
			cur.WriteByte(path[i])
		case '.':
			segs = append(segs, cur.String())
			cur.Reset()
		default:
			cur.WriteByte(c)
		}
	}
	segs = append(segs, cur.String())
	for _, s := range segs {
		if s == "" {
			return nil, fmt.Errorf("%w: %q has an empty segment", ErrBadPath, path)
		}
	}
	return segs, nil
}

// encodeValue turns a command-line value into JSON: itself when it is
// valid JSON, else a JSON string.
func encodeValue(value string) ([]byte, error) {
	if json.Valid([]byte(value)) {
		return bytes.TrimSpace([]byte(value)), nil
	}
	return marshal(value)
}

// marshal encodes v without escaping <, > and &: this is a document for
// people, not HTML.
func marshal(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}

// set returns doc (one valid JSON value) with segs[i:] set to v. Only the
// containers on the path are decoded; everything else stays as raw bytes.
func set(doc []byte, segs []string, v []byte, i int) ([]byte, error) {
	if i == len(segs) {
		return v, nil
	}
	doc = bytes.TrimSpace(doc)
	if len(doc) == 0 {
		return nil, ErrNotJSON
	}
	at := strings.Join(segs[:i], ".")
	if at == "" {
		at = "the document"
	}
	switch doc[0] {
	case '{':
		members, err := decodeObject(doc)
		if err != nil {
			return nil, err
		}
		key := segs[i]
		// Set the last occurrence of a duplicated key: that is the one
		// encoding/json and most parsers keep.
		idx := -1
		for j, m := range members {
			if m.key == key {
				idx = j
			}
		}
		if idx < 0 {
			members = append(members, member{key: key, value: []byte("{}")})
			idx = len(members) - 1
		}
		child, err := set(members[idx].value, segs, v, i+1)
		if err != nil {
			return nil, err
		}
		members[idx].value = child
		return encodeObject(members)
	case '[':
		var elems []json.RawMessage
		if err := json.Unmarshal(doc, &elems); err != nil {
			return nil, err
		}
		n, err := strconv.Atoi(segs[i])
		if err != nil || n < 0 || segs[i] != strconv.Itoa(n) {
			return nil, fmt.Errorf("%w: %s is an array, and %q is not an index", ErrNotObject, at, segs[i])
		}
		if n >= len(elems) {
			return nil, fmt.Errorf("%w: %s has %d elements, no index %d", ErrOutOfRange, at, len(elems), n)
		}
		child, err := set(elems[n], segs, v, i+1)
		if err != nil {
			return nil, err
		}
		elems[n] = child
		return encodeArray(elems), nil
	}
	return nil, fmt.Errorf("%w: %s is %s", ErrNotObject, at, kind(doc[0]))
}

// member is one key and its raw value, in document order.
type member struct {
	key   string
	value json.RawMessage
}

// decodeObject reads a JSON object's members in order.
func decodeObject(doc []byte) ([]member, error) {
	dec := json.NewDecoder(bytes.NewReader(doc))
	if _, err := dec.Token(); err != nil { // {
		return nil, err
	}
	var members []member
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, err
		}
		key, ok := tok.(string)
		if !ok {
			return nil, fmt.Errorf("object key %v is not a string", tok)
		}
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, err
		}
		members = append(members, member{key, raw})
	}
	if _, err := dec.Token(); err != nil && err != io.EOF { // }
		return nil, err
	}
	return members, nil
}

// encodeObject writes members back as a JSON object, in order.
func encodeObject(members []member) ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, m := range members {
		if i > 0 {
			b.WriteByte(',')
		}
		k, err := marshal(m.key)
		if err != nil {
			return nil, err
		}
		b.Write(k)
		b.WriteByte(':')
		b.Write(m.value)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// encodeArray writes elems back as a JSON array. (json.Marshal would
// HTML-escape the raw elements.)
func encodeArray(elems []json.RawMessage) []byte {
	b := []byte{'['}
	for i, e := range elems {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, e...)
	}
	return append(b, ']')
}

// kind names the JSON type that starts with c, for error messages.
func kind(c byte) string {
	switch c {
	case '"':
		return "a string"
	case 't', 'f':
		return "a boolean"
	case 'n':
		return "null"
	}
	return "a number"
}
