package page

import (
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// The page sets everything the relay sends as text: no HTML parsing of
// delivery paths, events or agent ids that a sender or agent controls.
func TestPageNeverParsesHTML(t *testing.T) {
	js, err := fs.ReadFile(static, "static/app.js")
	if err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{"innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval("} {
		if strings.Contains(string(js), bad) {
			t.Errorf("app.js uses %s", bad)
		}
	}
	if !strings.Contains(string(js), "textContent") {
		t.Error("app.js sets no textContent")
	}
}

// source is a channel with one delivery and one agent.
type source struct{}

func (source) Recent(string, int) []Item {
	return []Item{{ID: "d1", Method: "POST", Path: "/x", Action: "a.b", Status: 200}}
}
func (source) Agents(string) []Agent { return []Agent{{ID: "agent 1"}} }
func (source) Subscribe(string) (<-chan Item, func()) {
	c := make(chan Item)
	return c, func() {}
}

// Every answer under /c/ carries the page's policy, the handler's own 404s
// included, whoever wraps it.
func TestEveryAnswerCarriesThePolicy(t *testing.T) {
	ts := httptest.NewServer(Handler(source{}))
	defer ts.Close()
	for path, want := range map[string]int{"/c/ops": 200, "/c/ops/app.js": 200, "/c/ops/feed.json": 200, "/c/ops/secret.txt": 404} {
		resp, err := http.Get(ts.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want || !strings.Contains(resp.Header.Get("Content-Security-Policy"), "default-src 'none'") ||
			resp.Header.Get("Cache-Control") != "no-store" || resp.Header.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("%s: %d %v", path, resp.StatusCode, resp.Header)
		}
	}
}

func TestSnapshotShape(t *testing.T) {
	ts := httptest.NewServer(Handler(source{}))
	defer ts.Close()
	resp, err := http.Get(ts.URL + "/c/ops/feed.json")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	const want = `{"channel":"ops","items":[{"id":"d1","time":"0001-01-01T00:00:00Z","method":"POST","path":"/x","action":"a.b","status":200,"duration_ms":0}],"agents":[{"id":"agent 1","events":null}]}` + "\n"
	if string(b) != want || resp.Header.Get("Content-Type") != "application/json" {
		t.Errorf("feed.json: %s\nwant %s", b, want)
	}
}
