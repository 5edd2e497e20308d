package provider

import (
	"embed"
	"net/http"
)

//go:embed page/index.html page/page.js
var pageFiles embed.FS

// page serves the emulator's web page: subscriptions and the delivery log.
// It holds no data itself (the script reads the API, with a token), so it
// needs none; the Host check still applies, and a strict CSP keeps any
// value from running as code.
func (p *Provider) page(name, contentType string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if !p.allowedHost(r.Host) {
			http.Error(w, "forbidden host", http.StatusForbidden)
			return
		}
		b, err := pageFiles.ReadFile("page/" + name)
		if err != nil {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", contentType)
		w.Header().Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; style-src 'unsafe-inline'; connect-src 'self'")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.Header().Set("Cache-Control", "no-store")
		w.Write(b)
	}
}
