package main

import (
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"
)

// TestHeadAnswerKeepsContentLength: a HEAD webhook (providers probe URLs
// with HEAD and GET) passes through to the app, whose answer announces
// the length of the body a GET would get. The relay passes the app's
// headers on but sets Content-Length to the length of the body the agent
// reported, which for HEAD is always 0: the sender reads "Content-Length:
// 0" where the app said 10 (seen over HTTP/1.1 and h2c).
func TestHeadAnswerKeepsContentLength(t *testing.T) {
	app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		w.Header().Set("Content-Length", "10")
		if r.Method != http.MethodHead {
			w.Write([]byte("hello-body"))
		}
	}))
	t.Cleanup(app.Close)
	_, relayURL := startRelay(t)
	listen := startProc(t, "listen", "--no-web", "--relay", relayURL, "--channel", "head", "--forward-to", app.URL,
		"--db", filepath.Join(t.TempDir(), "agent.db"), "--no-tui", "--json", "--no-web")
	listen.line(t, `"type":"ready"`)

	direct, err := http.Head(app.URL + "/x")
	if err != nil {
		t.Fatal(err)
	}
	direct.Body.Close()
	relayed, err := http.Head(relayURL + "/h/head/x")
	if err != nil {
		t.Fatal(err)
	}
	relayed.Body.Close()
	if relayed.StatusCode != direct.StatusCode || relayed.Header.Get("Content-Length") != direct.Header.Get("Content-Length") {
		t.Fatalf("HEAD through the relay: %d with Content-Length %q; the app answers %d with Content-Length %q",
			relayed.StatusCode, relayed.Header.Get("Content-Length"), direct.StatusCode, direct.Header.Get("Content-Length"))
	}
}
