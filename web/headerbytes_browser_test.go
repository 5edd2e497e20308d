package web

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/hooktap/hooktap/inspector/store"
)

// A header value that is not UTF-8 reaches the API under headers_base64
// (not headers); the detail still lists it, its bad bytes as U+FFFD, as
// the TUI and `events show` do. It used to vanish from the page.
func TestBrowserHeaderBytes(t *testing.T) {
	f := newFixture(t, "")
	f.prepare = func(d *store.Delivery) { d.Header.Set("X-Raw", "caf\xe9") }
	d := f.addBody("", []byte(`{"a":1}`), "", 0)
	a := &store.Attempt{DeliveryID: d.ID, Kind: store.KindForward, Target: "http://app.test/", StartedAt: d.ReceivedAt,
		Duration: time.Millisecond, Status: 200, Header: http.Header{"X-App": {"\xfeok"}}, Body: []byte("ok")}
	if err := store.Wait(t.Context(), f.store.AddAttempt(a)); err != nil {
		t.Fatal(err)
	}
	ctx := tab(t, newBrowser(t))
	var req, resp string
	run(t, ctx, opened(f.ts.URL, d.ID,
		into(&req, chromedp.TextContent(css(`#d-headers`))),
		into(&resp, chromedp.TextContent(css(`#d-attempts .attempt table`))),
	)...)
	if !strings.Contains(req, "X-Rawcaf\ufffd") || !strings.Contains(req, "Content-Type") {
		t.Errorf("request headers shown: %q", req)
	}
	if !strings.Contains(resp, "X-App\ufffdok") {
		t.Errorf("response headers shown: %q", resp)
	}
}
