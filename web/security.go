package web

import (
	"crypto/subtle"
	"net"
	"net/http"
	"strings"
)

// allowedHost reports whether a request's Host may reach the inspector: a
// loopback name or an IP literal. A DNS rebinding attack needs a name the
// attacker controls, so anything else is refused.
func allowedHost(host string) bool {
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.TrimSuffix(strings.ToLower(strings.Trim(host, "[]")), ".")
	switch {
	case host == "":
		return false
	case host == "localhost" || strings.HasSuffix(host, ".localhost"):
		return true
	}
	return net.ParseIP(host) != nil
}

// write wraps a handler that changes something (sends a request to the
// app): it needs the page's token in X-Hooktap-Token and, when the browser
// says where the request comes from, the same origin.
func (s *Server) write(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if msg := s.refuseWrite(r); msg != "" {
			writeError(w, http.StatusForbidden, msg)
			return
		}
		next(w, r)
	}
}

// crossOrigin refuses what a browser says comes from another origin
// (Sec-Fetch-Site, else Origin against Host); requests from scripts and
// tools, which send neither, pass on to the token check.
var crossOrigin = http.NewCrossOriginProtection()

func (s *Server) refuseWrite(r *http.Request) string {
	if crossOrigin.Check(r) != nil {
		// net/http's own words ("and/or browser is out of date") puzzle a
		// curl user who sent an Origin: say what was checked.
		return "cross-origin request refused: the request names another origin (Origin or Sec-Fetch-Site) than this inspector's; scripts send neither header, only X-Hooktap-Token"
	}
	got := r.Header.Get("X-Hooktap-Token")
	if got == "" || subtle.ConstantTimeCompare([]byte(got), []byte(s.token)) != 1 {
		return "missing or wrong X-Hooktap-Token header: reload the inspector page (scripts find the token in its <meta name=\"hooktap-token\">)"
	}
	return ""
}
