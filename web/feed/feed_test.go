package feed

import (
	"io/fs"
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
