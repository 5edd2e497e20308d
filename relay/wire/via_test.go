package wire

import (
	"net/http"
	"testing"
)

// TestDropOwnVia: hooktap's Via entries go, other proxies' stay.
func TestDropOwnVia(t *testing.T) {
	for _, tt := range []struct {
		in   []string
		want string
	}{
		{[]string{"1.1 hooktap"}, ""},
		{[]string{"1.1 hooktap, 1.1 hooktap"}, ""},
		{[]string{"1.0 corp-proxy, 1.1 hooktap", "HTTP/1.1 hooktap, 2 fly.io"}, "1.0 corp-proxy, 2 fly.io"},
		{[]string{"1.1 vegur"}, "1.1 vegur"},
	} {
		h := http.Header{"Via": tt.in}
		DropOwnVia(h)
		if got := h.Get("Via"); got != tt.want || Hops(h) != 0 || (tt.want == "" && h["Via"] != nil) {
			t.Errorf("%q: Via %q (%d values), want %q", tt.in, got, len(h["Via"]), tt.want)
		}
	}
}
