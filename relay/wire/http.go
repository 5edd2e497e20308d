package wire

import (
	"net/http"
	"strings"
)

// hopHeaders are meaningful for one connection only and never passed on.
var hopHeaders = []string{
	"Connection", "Keep-Alive", "Proxy-Authenticate", "Proxy-Authorization",
	"Proxy-Connection", "Te", "Trailer", "Transfer-Encoding", "Upgrade",
}

// StripHopHeaders removes hop-by-hop headers from h, including those that
// its Connection header names.
func StripHopHeaders(h http.Header) {
	for _, v := range h.Values("Connection") {
		for _, name := range strings.Split(v, ",") {
			if name = strings.TrimSpace(name); name != "" {
				h.Del(name)
			}
		}
	}
	for _, name := range hopHeaders {
		h.Del(name)
	}
}

// via is the Via entry (RFC 9110, 7.6.3) an agent adds to each request it
// forwards, so that a relay can tell a request that has come round again.
const via = "1.1 hooktap"

// AddVia appends hooktap's entry to h's Via header.
func AddVia(h http.Header) {
	if prior := h.Values("Via"); len(prior) > 0 {
		h.Set("Via", strings.Join(prior, ", ")+", "+via)
		return
	}
	h.Set("Via", via)
}

// DropOwnVia removes hooktap's entries from h's Via header and keeps those
// of other proxies: a recorded request sent again (a resend, a replay, a
// fixture) is a new trip, and hops counted on its first trip would make a
// relay take it for a loop.
func DropOwnVia(h http.Header) {
	var keep []string
	for _, e := range viaEntries(h) {
		if !ownVia(e) {
			keep = append(keep, e)
		}
	}
	h.Del("Via")
	if len(keep) > 0 {
		h.Set("Via", strings.Join(keep, ", "))
	}
}

// Hops is how many hooktap agents have forwarded a request with header h
// (its Via entries that name hooktap).
func Hops(h http.Header) int {
	n := 0
	for _, e := range viaEntries(h) {
		if ownVia(e) {
			n++
		}
	}
	return n
}

// viaEntries are h's Via entries, one per proxy, in order.
func viaEntries(h http.Header) []string {
	var out []string
	for _, v := range h.Values("Via") {
		for _, e := range strings.Split(v, ",") {
			if e = strings.TrimSpace(e); e != "" {
				out = append(out, e)
			}
		}
	}
	return out
}

// ownVia reports whether a Via entry is hooktap's ("1.1 hooktap").
func ownVia(entry string) bool {
	f := strings.Fields(entry)
	return len(f) >= 2 && f[1] == "hooktap"
}

// ValidMethod reports whether m is 1-32 letters, digits, '-' or '_', as
// every method in the IANA registry is. Go's server takes any token, and a
// token may hold ` $ ' | &, which a shell reads when the method is pasted
// in a copied command. The relay refuses other methods, and import and
// fixtures take only what the relay would have let in.
func ValidMethod(m string) bool {
	if m == "" || len(m) > 32 {
		return false
	}
	for i := 0; i < len(m); i++ {
		c := m[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// ValidHeaderName reports whether s is an HTTP token (RFC 9110 tchar), as
// a header name must be for net/http to send it.
func ValidHeaderName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0) {
			return false
		}
	}
	return true
}

// ValidHeaderValue reports whether v can be sent as a header value: no CR,
// LF or NUL (bytes 0x80-0xff are allowed, as HTTP allows them).
func ValidHeaderValue(v string) bool {
	return !strings.ContainsAny(v, "\r\n\x00")
}
