package web

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/hooktap/hooktap/inspector/live"
	"github.com/hooktap/hooktap/inspector/replay"
	"github.com/hooktap/hooktap/inspector/store"
)

// TestBrowserResendPairsRequestAndResponse: after a resend, the Request
// pane shows what the resend sent (its signature, its body) beside its
// answer in the Response pane; each attempt below says what it sent.
func TestBrowserResendPairsRequestAndResponse(t *testing.T) {
	f := newFixture(t, "")
	a := newApp(t, 200)
	f.prepare = func(d *store.Delivery) {
		d.Header.Set("Monite-Signature", "t=1,v1=original")
		d.Header.Set("Content-Length", "428")
	}
	d := f.add("payable.created", a.URL+"/webhooks", 200)
	sent := d.Header.Clone()
	sent.Set("Monite-Signature", "t=2,v1=resent")
	sent.Set("Content-Length", "17")
	resend := &store.Attempt{DeliveryID: d.ID, Kind: store.KindResend, Target: a.URL + "/webhooks", Status: 201,
		StartedAt: time.Now(), Duration: time.Millisecond, RequestHeader: sent, RequestBody: []byte(`{"resent":"body"}`),
		Header: http.Header{"Content-Type": {"application/json"}}, Body: []byte(`{"answer":"to the resend"}`)}
	if err := store.Wait(t.Context(), f.store.AddAttempt(resend)); err != nil {
		t.Fatal(err)
	}
	ctx := tab(t, newBrowser(t))
	var reqLine, reqHeaders, reqBody, respLine, respBody string
	var sentAs []string
	run(t, ctx, opened(f.ts.URL, d.ID,
		into(&reqLine, chromedp.Evaluate[string](`(document.querySelector("#d-req-line") || {}).textContent || ""`)),
		into(&reqHeaders, chromedp.TextContent(css(`#d-headers`))),
		into(&reqBody, chromedp.TextContent(css(`#d-body`))),
		into(&respLine, chromedp.TextContent(css(`#d-resp-line`))),
		into(&respBody, chromedp.TextContent(css(`#d-resp-body`))),
		into(&sentAs, chromedp.Evaluate[[]string](`[...document.querySelectorAll("#d-attempts details")].map((e) =>
			e.querySelector(".kind").textContent + ": " + (e.querySelector(".sent-as") ? "as received" : e.querySelector("table.kv").textContent))`)),
	)...)
	if !strings.HasPrefix(respLine, "201 · resend") || !strings.Contains(respBody, "to the resend") {
		t.Fatalf("response pane %q %q, want the resend's answer", respLine, respBody)
	}
	if !strings.HasPrefix(reqLine, "resend") || !strings.Contains(reqHeaders, "t=2,v1=resent") || strings.Contains(reqHeaders, "original") ||
		!strings.Contains(reqHeaders, "17") || !strings.Contains(reqBody, `"resent"`) {
		t.Errorf("request pane %q, headers %q, body %q: not what the resend sent", reqLine, reqHeaders, reqBody)
	}
	if len(sentAs) != 2 || !strings.Contains(sentAs[0], "resend: ") || !strings.Contains(sentAs[0], "t=2,v1=resent") || sentAs[1] != "forward: as received" {
		t.Errorf("attempts say they sent %q", sentAs)
	}
}

// TestBrowserHeaderOneLine: with everything the header can say (the app's
// failures, the emulator's link, the count), it keeps one line from 1200
// px up, the webhook URL whole at 1400 px and up, and stays one line, cut
// tidily, at 900 px.
func TestBrowserHeaderOneLine(t *testing.T) {
	st, err := store.Open(t.Context(), t.TempDir()+"/hooktap.db")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	bus := live.NewBus()
	srv := New(Options{Store: st, Bus: bus, Sender: &replay.Sender{Store: st, Bus: bus},
		ProviderPage: "http://127.0.0.1:38789/v1/_emulator/"})
	ts := httptest.NewServer(srv)
	t.Cleanup(ts.Close)
	f := &fixture{t: t, store: st, bus: bus, web: srv, ts: ts}
	for range 10 {
		f.add("payable.created", "http://localhost:3000/webhooks", 500)
	}
	url := "http://127.0.0.1:38789/h/dev"
	bus.Publish(live.Event{Kind: live.EventRelay, Relay: live.RelayStatus{State: live.StateConnected,
		Relay: "http://127.0.0.1:38789", URL: url, Target: "http://localhost:3000/webhooks"}})
	bus.Publish(live.Event{Kind: live.EventApp, App: live.AppHealth{Target: "http://localhost:3000/webhooks", Addr: "localhost:3000",
		Checked: true, Listening: true, LastStatus: 500, LastAt: time.Now(), Forwards: 4, Failures: 3}})

	ctx := tab(t, newBrowser(t))
	run(t, ctx, chromedp.Navigate(ts.URL), ready(),
		poll(`document.querySelector("#app").textContent.includes("75% failed (1 min)")`),
		poll(`!document.querySelector("#provider-link").hidden && document.querySelector("#count").textContent === "10 deliveries"`))
	// lines is how many lines the header's shown items take (their
	// distinct tops), whether one is cut off the window, and whether the
	// webhook URL shows whole.
	const measure = `(() => {
		const bar = document.querySelector(".bar");
		const items = [...bar.children].filter((e) => !e.hidden && e.offsetWidth > 0 && !e.classList.contains("spacer"));
		const tops = new Set(items.map((e) => Math.round(e.getBoundingClientRect().top / 8)));
		const tall = items.filter((e) => e.getBoundingClientRect().height > 30).map((e) => e.id || e.className);
		const out = items.filter((e) => e.getBoundingClientRect().right > innerWidth + 0.5).map((e) => e.id || e.className);
		const ing = document.querySelector("#ingress");
		return JSON.stringify({lines: tops.size, height: Math.round(bar.getBoundingClientRect().height), tall, out,
			urlWhole: ing.scrollWidth <= ing.clientWidth && ing.textContent.includes("/h/dev"),
			link: document.querySelector("#provider-link").innerText,
			widths: items.map((e) => (e.id || e.className) + "=" + Math.round(e.getBoundingClientRect().width) + "/" + e.scrollWidth)});
	})()`
	for _, c := range []struct {
		width    int
		urlWhole bool
		link     string
	}{{1600, true, "Subscriptions & delivery log"}, {1400, true, "Emulator"}, {1200, false, "Emulator"}, {900, false, "Emulator"}} {
		var got string
		run(t, ctx, chromedp.EmulateViewport(int64(c.width), 900), into(&got, chromedp.Evaluate[string](measure)))
		if !strings.Contains(got, `"lines":1,`) || !strings.Contains(got, `"tall":[]`) || !strings.Contains(got, `"out":[]`) ||
			!strings.Contains(got, `"link":"`+c.link+`"`) || (c.urlWhole && !strings.Contains(got, `"urlWhole":true`)) {
			t.Errorf("at %d px the header is %s", c.width, got)
		}
	}
}

// TestBrowserNoActionAndUnknownID: a delivery without an action shows "-"
// in the ACTION column, as in the terminal UI, and an id in the URL that
// the store does not have is said, not ignored.
func TestBrowserNoActionAndUnknownID(t *testing.T) {
	f := newFixture(t, "")
	d := f.addBody("", []byte(`{"hello":"world"}`), "http://localhost:3000/webhooks", 200)
	ctx := tab(t, newBrowser(t))
	var action, missing string
	run(t, ctx, chromedp.Navigate(f.ts.URL+"/#doesnotexist"), ready(),
		chromedp.WaitVisible(css(row(d.ID))),
		into(&action, chromedp.TextContent(css(row(d.ID)+` .c-action`))),
		poll(`!document.querySelector("#detail-empty").hidden && document.querySelector("#detail-empty").textContent.includes("doesnotexist")`),
		into(&missing, chromedp.TextContent(css(`#detail-empty`))),
		// Opening a delivery still works after.
		chromedp.Click(css(row(d.ID))),
		poll(`document.querySelector("#d-sub").textContent.startsWith("`+d.ID+`") && document.querySelector("#detail-empty").hidden`),
	)
	if action != "-" {
		t.Errorf("ACTION shows %q for a delivery with no action, want - (as the terminal UI)", action)
	}
	if missing != "no delivery doesnotexist in this store" {
		t.Errorf("unknown id: %q", missing)
	}
}
