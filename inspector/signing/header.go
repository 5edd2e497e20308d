package signing

import (
	"net/http"
	"strings"
)

// values returns the values of header name, also when h was built by hand
// with a non-canonical key such as "webhook-signature".
func values(h http.Header, name string) []string {
	if v := h.Values(name); len(v) > 0 {
		return v
	}
	for k, v := range h {
		if strings.EqualFold(k, name) {
			return v
		}
	}
	return nil
}

// has reports whether h carries header name, in any spelling.
func has(h http.Header, name string) bool {
	return len(values(h, name)) > 0
}

// del removes header name from h in every spelling.
func del(h http.Header, name string) {
	for k := range h {
		if strings.EqualFold(k, name) {
			delete(h, k)
		}
	}
}
