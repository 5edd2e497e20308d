package signing

import (
	"bytes"
	"encoding/json"
)

// bodyVariants returns plausible versions of body as it may have been when
// it was signed, before a framework or proxy re-serialized it: compacted,
// re-indented, Python-style spaced, and with a trailing newline added or
// removed. body itself and duplicates are left out.
func bodyVariants(body []byte) [][]byte {
	var out [][]byte
	add := func(v []byte) {
		if bytes.Equal(v, body) {
			return
		}
		for _, o := range out {
			if bytes.Equal(o, v) {
				return
			}
		}
		out = append(out, v)
	}
	trimmed := bytes.TrimRight(body, "\r\n")
	add(trimmed)
	add(append(bytes.Clone(trimmed), '\n'))
	add(append(bytes.Clone(body), '\n'))

	var compact bytes.Buffer
	if json.Compact(&compact, body) != nil {
		return out
	}
	c := compact.Bytes()
	add(c)
	add(append(bytes.Clone(c), '\n'))
	add(spaced(c))
	for _, indent := range []string{"  ", "    ", "\t"} {
		var b bytes.Buffer
		if json.Indent(&b, c, "", indent) == nil {
			add(bytes.Clone(b.Bytes()))
			add(append(bytes.Clone(b.Bytes()), '\n'))
		}
	}
	return out
}

// spaced re-spaces compact JSON the way Python's json.dumps does by
// default: ", " between elements and ": " after keys.
func spaced(compact []byte) []byte {
	out := make([]byte, 0, len(compact)+len(compact)/8)
	inString, escaped := false, false
	for _, c := range compact {
		out = append(out, c)
		switch {
		case escaped:
			escaped = false
		case inString && c == '\\':
			escaped = true
		case c == '"':
			inString = !inString
		case !inString && (c == ',' || c == ':'):
			out = append(out, ' ')
		}
	}
	return out
}
