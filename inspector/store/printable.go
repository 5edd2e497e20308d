package store

import (
	"strings"
	"unicode"
)

// Printable is s as it may be written to a terminal: anyone who can post a
// webhook chooses its bytes, and an escape sequence in an event name could
// rewrite the screen or set the clipboard (OSC 52). Control characters but
// newline and tab become U+FFFD, and so do bytes that are not UTF-8.
func Printable(s string) string {
	clean := true
	for _, r := range s {
		if r == unicode.ReplacementChar || unicode.IsControl(r) && r != '\n' && r != '\t' {
			clean = false
			break
		}
	}
	if clean {
		return s
	}
	return strings.Map(func(r rune) rune {
		if unicode.IsControl(r) && r != '\n' && r != '\t' {
			return unicode.ReplacementChar
		}
		return r
	}, strings.ToValidUTF8(s, "\uFFFD"))
}
