package web

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/hooktap/hooktap/inspector/live"
	"github.com/hooktap/hooktap/inspector/signing"
	"github.com/hooktap/hooktap/inspector/store"
)

// newBrowser starts a headless Chromium for the test. The browser tests
// never skip: without Chromium they fail and say how to get it.
func newBrowser(t *testing.T) context.Context {
	t.Helper()
	path := ""
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "/usr/bin/chromium"} {
		if p, err := exec.LookPath(name); err == nil {
			path = p
			break
		}
	}
	if path == "" {
		t.Fatal("chromium not found: install it (apt-get install -y chromium) to run the web inspector's browser tests")
	}
	dir, err := os.MkdirTemp("", "hooktap-chromium-")
	if err != nil {
		t.Fatal(err)
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.Flag("no-default-browser-check", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.UserDataDir(dir),
		chromedp.WindowSize(1400, 900),
	}
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelBrowser := chromedp.NewContext(allocCtx)
	// Start the browser now, so that a missing library fails here clearly.
	if err := chromedp.Do(ctx); err != nil {
		cancelBrowser()
		cancelAlloc()
		os.RemoveAll(dir)
		t.Fatalf("start chromium (%s): %v", path, err)
	}
	t.Cleanup(func() {
		cancelBrowser()
		cancelAlloc() // waits for the browser to exit
		os.RemoveAll(dir)
	})
	return ctx
}

// tab opens a new tab with a deadline.
func tab(t *testing.T, browser context.Context) context.Context {
	t.Helper()
	ctx, cancel := chromedp.NewContext(browser)
	// A bound against a hang, not a measure: a loaded 2-core machine takes
	// tens of seconds for what takes one when idle.
	ctx, cancelTimeout := context.WithTimeout(ctx, 90*time.Second)
	t.Cleanup(func() { cancelTimeout(); cancel() })
	return ctx
}

func run(t *testing.T, ctx context.Context, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	if err := chromedp.Do(ctx, actions...); err != nil {
		t.Fatal(err)
	}
}

// into runs a and keeps its value in dst, so that values can be read in the
// middle of a run.
func into[T any](dst *T, a chromedp.Action[T]) chromedp.Action[chromedp.Void] {
	return func(ctx context.Context, t *chromedp.Target) (chromedp.Void, error) {
		v, err := a(ctx, t)
		*dst = v
		return chromedp.Void{}, err
	}
}

type css = chromedp.CSS

// row is the list row of delivery id.
func row(id string) string { return `#rows tr[data-id="` + id + `"]` }

// poll waits until the JavaScript expression is true.
func poll(expr string) chromedp.Action[chromedp.Void] {
	return chromedp.Poll[chromedp.Void](expr, chromedp.WithPollingTimeout(15*time.Second))
}

// ready waits for the page's first load and its live stream.
func ready() chromedp.Action[chromedp.Void] {
	return poll(`document.body.dataset.ready === "1" && document.body.dataset.live === "1"`)
}

const xssBody = `{"action":"<img src=x onerror=window.__pwned=1>","x":"<script>window.__pwned=1</script><img src=x onerror=window.__pwned=1>"}`

// opened loads the page and opens id's delivery from its row, waiting until
// the detail shows it; more actions follow.
func opened(url, id string, more ...chromedp.Action[chromedp.Void]) []chromedp.Action[chromedp.Void] {
	return append([]chromedp.Action[chromedp.Void]{
		chromedp.Navigate(url),
		chromedp.WaitVisible(css(row(id))),
		ready(),
		chromedp.Click(css(row(id))),
		chromedp.WaitVisible(css(`#detail-body`)),
		poll(`document.querySelector("#d-sub").textContent.startsWith("` + id + `")`),
	}, more...)
}

func TestBrowser(t *testing.T) {
	const secret = "whsec_browser_test"
	f := newFixture(t, secret)
	a := newApp(t, 200)
	target := a.URL + "/webhooks"
	first := f.add("payable.created", target, 200)
	f.add("counterpart.created", target, 500)
	f.add("payable.paid", target, 200)
	xss := f.addBody("", []byte(xssBody), target, 200)
	browser := newBrowser(t)

	t.Run("list renders", func(t *testing.T) {
		ctx := tab(t, browser)
		var n int
		var firstRow, status string
		run(t, ctx,
			chromedp.Navigate(f.ts.URL),
			chromedp.WaitVisible(css(row(first.ID))),
			ready(),
			into(&n, chromedp.Evaluate[int](`document.querySelectorAll("#rows tr").length`)),
			into(&firstRow, chromedp.TextContent(css(`#rows tr:first-child`))),
			into(&status, chromedp.TextContent(css(row("dlv_0002")+` .c-status`))),
		)
		if n != 4 {
			t.Errorf("%d rows, want 4", n)
		}
		if !strings.Contains(firstRow, "<img src=x") {
			t.Errorf("the newest row is %q", firstRow)
		}
		if strings.TrimSpace(status) != "500" {
			t.Errorf("status cell %q", status)
		}

		// The filter language, as in the TUI.
		run(t, ctx,
			chromedp.Click(css(`#filter`)),
			chromedp.SendKeys(css(`#filter`), "status:5xx\r"),
			poll(`document.querySelectorAll("#rows tr").length === 1 && !!document.querySelector('`+row("dlv_0002")+`')`),
		)
	})

	t.Run("live", func(t *testing.T) {
		ctx := tab(t, browser)
		run(t, ctx, chromedp.Navigate(f.ts.URL), chromedp.WaitVisible(css(row(first.ID))), ready())
		d := f.add("receipt.created", "", 0)
		f.bus.Publish(live.Event{Kind: live.EventReceived, Delivery: d})
		var text string
		run(t, ctx,
			chromedp.WaitVisible(css(row(d.ID))),
			into(&text, chromedp.TextContent(css(row(d.ID)))),
		)
		if !strings.Contains(text, "receipt.created") || !strings.Contains(text, "…") {
			t.Errorf("new row %q, want receipt.created, pending", text)
		}
		// Its attempt updates the row in place.
		att := &store.Attempt{DeliveryID: d.ID, Kind: store.KindForward, Target: target,
			StartedAt: time.Now(), Duration: 42 * time.Millisecond, Status: 202}
		if err := store.Wait(t.Context(), f.store.AddAttempt(att)); err != nil {
			t.Fatal(err)
		}
		d.Attempts, d.Status, d.DurationMS = 1, 202, 42
		f.bus.Publish(live.Event{Kind: live.EventAttempt, Delivery: d, Attempt: att})
		run(t, ctx, poll(`document.querySelector('`+row(d.ID)+` .c-status').textContent === "202"`))
	})

	t.Run("store cannot write", func(t *testing.T) {
		// The header says so, live and after a reload, until the store
		// writes again.
		ctx := tab(t, browser)
		run(t, ctx, chromedp.Navigate(f.ts.URL), chromedp.WaitVisible(css(row(first.ID))), ready())
		full := live.StoreHealth{Err: "commit: database or disk is full (13)", Since: time.Now(), Waiting: 7}
		f.bus.Publish(live.Event{Kind: live.EventStore, Store: full})
		const want = "store: cannot write (disk full) — 7 deliveries waiting; retrying"
		run(t, ctx, poll(`!document.querySelector("#store").hidden && document.querySelector("#store").textContent === "`+want+`"`))
		run(t, ctx, chromedp.Reload(), ready(), poll(`!document.querySelector("#store").hidden && document.querySelector("#store").textContent === "`+want+`"`))
		f.bus.Publish(live.Event{Kind: live.EventStore})
		run(t, ctx, poll(`document.querySelector("#store").hidden`))
	})

	t.Run("link", func(t *testing.T) {
		// Opening a delivery puts its id in the URL; that URL opens it
		// again, in a new tab, with its row selected.
		ctx := tab(t, browser)
		var hash string
		run(t, ctx, opened(f.ts.URL, first.ID,
			into(&hash, chromedp.Evaluate[string](`location.hash`)),
		)...)
		if hash != "#"+first.ID {
			t.Fatalf("URL fragment %q after opening %s", hash, first.ID)
		}
		ctx = tab(t, browser)
		run(t, ctx,
			chromedp.Navigate(f.ts.URL+"/#"+first.ID),
			ready(),
			chromedp.WaitVisible(css(`#detail-body`)),
			poll(`document.querySelector("#d-sub").textContent.startsWith("`+first.ID+`")`),
			poll(`document.querySelector('`+row(first.ID)+`').classList.contains("sel")`),
		)
	})

	t.Run("replay", func(t *testing.T) {
		ctx := tab(t, browser)
		before := a.n.Load()
		var result string
		run(t, ctx, opened(f.ts.URL, first.ID,
			chromedp.Click(css(`#btn-replay`)),
			chromedp.WaitVisible(css(`#result.ok`)),
			into(&result, chromedp.TextContent(css(`#result`))),
		)...)
		if got := a.n.Load() - before; got != 1 {
			t.Fatalf("the app got %d requests from the button, want 1", got)
		}
		if !strings.Contains(result, "Replayed") || !strings.Contains(result, "200") {
			t.Errorf("result %q", result)
		}
		if body, _ := a.last(); string(body) != string(first.Body) {
			t.Errorf("the app got %s", body)
		}
		// The new attempt shows in the detail and the row.
		run(t, ctx, poll(`document.querySelectorAll("#d-attempts .attempt").length === 2 &&
			document.querySelector('`+row(first.ID)+` .c-att').textContent === "2"`))
	})

	t.Run("edit and resend", func(t *testing.T) {
		ctx := tab(t, browser)
		before := a.n.Load()
		var disabled bool
		run(t, ctx, opened(f.ts.URL, first.ID,
			chromedp.Click(css(`#btn-edit`)),
			chromedp.WaitVisible(css(`#editor-text`)),
			chromedp.Evaluate[chromedp.Void](`(() => { const t = document.querySelector("#editor-text"); t.value = "{broken"; t.dispatchEvent(new Event("input")); })()`),
			into(&disabled, chromedp.Evaluate[bool](`document.querySelector("#editor-send").disabled`)),
		)...)
		if !disabled {
			t.Error("invalid JSON can be sent")
		}
		run(t, ctx,
			chromedp.Evaluate[chromedp.Void](`(() => { const t = document.querySelector("#editor-text"); t.value = '{"action":"payable.created","edited":true}'; t.dispatchEvent(new Event("input")); })()`),
			chromedp.Click(css(`#editor-send`)),
			chromedp.WaitVisible(css(`#result.ok`)),
		)
		if a.n.Load()-before != 1 {
			t.Fatalf("the app got %d requests", a.n.Load()-before)
		}
		body, hdr := a.last()
		if string(body) != `{"action":"payable.created","edited":true}` {
			t.Errorf("the app got %s", body)
		}
		if v := signing.Verify(hdr, body, secret, time.Now()); v.State != signing.Valid {
			t.Errorf("signature %s: %s", v.State, v.Reason)
		}
	})

	t.Run("keyboard and curl", func(t *testing.T) {
		ctx := tab(t, browser)
		var sub, curl string
		run(t, ctx,
			chromedp.Navigate(f.ts.URL),
			chromedp.WaitVisible(css(row(first.ID))),
			ready(),
			chromedp.KeyEvent("j"),
			chromedp.KeyEvent("j"),
			chromedp.KeyEvent("k"),
			chromedp.KeyEvent("\r"),
			chromedp.WaitVisible(css(`#detail-body`)),
			into(&sub, chromedp.TextContent(css(`#d-sub`))),
			chromedp.KeyEvent("c"),
			chromedp.WaitVisible(css(`#result pre`)),
			into(&curl, chromedp.TextContent(css(`#result pre`))),
			chromedp.KeyEvent("?"),
			chromedp.WaitVisible(css(`#help`)),
		)
		// The list is newest first: j j k selects the first row.
		var firstID string
		run(t, ctx, into(&firstID, chromedp.Evaluate[string](`document.querySelector("#rows tr").dataset.id`)))
		if !strings.HasPrefix(sub, firstID) {
			t.Errorf("opened %q, want %s", sub, firstID)
		}
		if !strings.HasPrefix(curl, "curl ") || !strings.Contains(curl, target) {
			t.Errorf("curl %q", curl)
		}
	})

	t.Run("xss renders as text", func(t *testing.T) {
		ctx := tab(t, browser)
		var body, action string
		var pwned, injected bool
		run(t, ctx,
			chromedp.Navigate(f.ts.URL),
			chromedp.WaitVisible(css(row(xss.ID))),
			ready(),
			chromedp.Click(css(row(xss.ID))),
			chromedp.WaitVisible(css(`#d-body`)),
			poll(`document.querySelector("#d-sub").textContent.startsWith("`+xss.ID+`")`),
			into(&body, chromedp.TextContent(css(`#d-body`))),
			into(&action, chromedp.TextContent(css(row(xss.ID)+` .c-action`))),
			into(&pwned, chromedp.Evaluate[bool](`typeof window.__pwned !== "undefined"`)),
			into(&injected, chromedp.Evaluate[bool](`document.querySelectorAll("#rows img, #rows script, #detail img, #detail script").length > 0`)),
		)
		if !strings.Contains(body, "<script>window.__pwned=1</script><img src=x onerror=window.__pwned=1>") {
			t.Errorf("the body does not show the markup as text: %q", body)
		}
		if action != "<img src=x onerror=window.__pwned=1>" {
			t.Errorf("the action cell shows %q", action)
		}
		if pwned || injected {
			t.Errorf("payload ran or became markup: __pwned set %v, elements injected %v", pwned, injected)
		}
	})

	if path := os.Getenv("HOOKTAP_WEB_SCREENSHOT"); path != "" {
		screenshot(t, browser, path)
	}
}

// screenshot saves the page at 1400x900 over realistic deliveries, for a
// person to look at: HOOKTAP_WEB_SCREENSHOT=/tmp/web.png go test -run TestBrowser ./web
func screenshot(t *testing.T, browser context.Context, path string) {
	f := newFixture(t, "")
	a := newApp(t, 200)
	const secret = "whsec_screenshot"
	monite, _ := signing.Lookup("monite")
	verify := func(d *store.Delivery) { d.Verify(secret) }
	f.prepare = func(d *store.Delivery) {
		d.Header.Set("X-Forwarded-For", "203.0.113.7")
		key := secret
		switch f.seq % 9 {
		case 3:
			key = "whsec_rotated_last_week" // the sender used another secret
		case 6:
			return // unsigned
		}
		monite.Sign(d.Header, signing.Message{ID: d.ID, Event: d.Action, Timestamp: d.ReceivedAt, Body: d.Body}, key)
		verify(d)
	}
	f.bus.Publish(live.Event{Kind: live.EventRelay, Relay: live.RelayStatus{
		State: live.StateConnected, Relay: "https://relay.example.com", URL: "https://relay.example.com/h/acme-dev",
		Target: "http://localhost:3000/webhooks",
	}})
	actions := []string{"payable.created", "payable.submitted_for_approval", "approval_request.created", "payable.approved",
		"counterpart.created", "counterpart_address.created", "payable.paid", "receipt.created", "entity.updated",
		"payment_intent.status_updated", "payable.ocr_finished", "counterpart.updated", "payable_line_item.created",
		"payable.partially_paid", "comment.created", "entity_user.created", "payment_link.created", "payable.updated"}
	statuses := []int{200, 200, 200, 500, 200, 204, 200, 0, 200, 404, 200, 200, 200, 200, 422, 200, 200, 200}
	var open string
	for i, act := range actions {
		st := statuses[i]
		d := f.add(act, "http://localhost:3000/webhooks", st)
		if act == "payable.paid" {
			open = d.ID
			for _, kind := range []store.Kind{store.KindReplay, store.KindResend} {
				at := &store.Attempt{DeliveryID: d.ID, Kind: kind, Target: a.URL + "/webhooks", StartedAt: time.Now(),
					Duration: 7 * time.Millisecond, Status: 200, Header: http.Header{"Content-Type": {"application/json"}},
					Body: []byte(`{"received":true}`)}
				store.Wait(t.Context(), f.store.AddAttempt(at))
			}
		}
	}
	ctx := tab(t, browser)
	var png []byte
	run(t, ctx,
		chromedp.EmulateViewport(1400, 900),
		chromedp.Navigate(f.ts.URL),
		chromedp.WaitVisible(css(row(open))),
		ready(),
		chromedp.Click(css(row(open))),
		chromedp.WaitVisible(css(`#d-attempts .attempt`)),
		chromedp.Evaluate[chromedp.Void](`document.activeElement.blur()`),
		into(&png, chromedp.CaptureScreenshot()),
	)
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatal(err)
	}
	var dark []byte
	run(t, ctx, chromedp.KeyEvent("t"), poll(`document.documentElement.dataset.theme === "dark"`),
		into(&dark, chromedp.CaptureScreenshot()))
	darkPath := strings.TrimSuffix(path, ".png") + "-dark.png"
	if err := os.WriteFile(darkPath, dark, 0o644); err != nil {
		t.Fatal(err)
	}
	fmt.Fprintln(os.Stderr, "screenshots:", path, darkPath)
}

// TestBrowserEmulatorDelivery: a delivery from hooktap's provider emulator
// shows its subscription and attempt number in the detail.
func TestBrowserEmulatorDelivery(t *testing.T) {
	f := newFixture(t, "")
	a := newApp(t, 200)
	f.prepare = func(d *store.Delivery) {
		d.Header.Set("X-Hooktap-Subscription-Id", "sub-123")
		d.Header.Set("X-Hooktap-Attempt", "2")
	}
	d := f.add("payable.created", a.URL, 200)
	f.web.providerPage = "http://127.0.0.1:8789/v1/_emulator/"
	ctx := tab(t, newBrowser(t))
	var meta, link string
	run(t, ctx, opened(f.ts.URL, d.ID, into(&meta, chromedp.TextContent(css(`#d-meta`))),
		poll(`!document.querySelector("#provider-link").hidden`),
		into(&link, chromedp.Evaluate[string](`document.querySelector("#provider-link").href`)))...)
	if !strings.Contains(meta, "emulatorsubscription sub-123, attempt 2") {
		t.Fatalf("detail meta: %q", meta)
	}
	if link != f.web.providerPage {
		t.Fatalf("the header links the emulator's page at %q", link)
	}
}
