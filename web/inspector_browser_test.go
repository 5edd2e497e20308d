package web

import (
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/hooktap/hooktap/inspector/signing"
	"github.com/hooktap/hooktap/inspector/store"
)

// TestBrowserDetailLayout runs the page in Chromium: the detail shows the
// request and the row's response first, above the attempts; a resend's
// sent body is diffed against the original; a replay elsewhere is shown
// apart; R resends, as in the TUI, and an edit of the pretty-printed body
// goes out compacted; at 800 px the action and signature cells keep their
// text.
func TestBrowserDetailLayout(t *testing.T) {
	const secret = "whsec_browser_layout"
	f := newFixture(t, secret)
	a := newApp(t, 200)
	target := a.URL + "/webhooks"
	f.add("payable.submitted_for_approval", target, 200)
	d := f.add("payable.created", target, 200)
	f.add("counterpart.created", target, 200)
	edited := strings.Replace(string(d.Body), `"payable.created"`, `"payable.approved"`, 1)
	if edited == string(d.Body) {
		t.Fatalf("no action to edit in %s", d.Body)
	}
	for _, at := range []*store.Attempt{
		{Kind: store.KindResend, Target: target, Status: 201, RequestBody: []byte(edited),
			RequestHeader: d.Header.Clone(), Body: []byte(`{"resent":true}`)},
		{Kind: store.KindReplay, Target: "http://staging.example/hooks", Status: 503},
	} {
		at.DeliveryID, at.StartedAt, at.Duration = d.ID, time.Now(), time.Millisecond
		if err := store.Wait(t.Context(), f.store.AddAttempt(at)); err != nil {
			t.Fatal(err)
		}
	}
	browser := newBrowser(t)

	t.Run("request and response first", func(t *testing.T) {
		ctx := tab(t, browser)
		var respLine, away, mark string
		var above bool
		var added, removed []string
		var order string
		run(t, ctx, opened(f.ts.URL, d.ID,
			chromedp.WaitVisible(css(`#d-resp-body`)),
			into(&respLine, chromedp.TextContent(css(`#d-resp-line`))),
			into(&above, chromedp.Evaluate[bool](`(() => {
				const r = document.querySelector("#d-resp-body").getBoundingClientRect();
				const q = document.querySelector("#d-body").getBoundingClientRect();
				const at = document.querySelector("#d-attempts").getBoundingClientRect();
				return r.top < at.top && q.top < at.top;
			})()`)),
			into(&away, chromedp.TextContent(css(`#d-elsewhere`))),
			into(&mark, chromedp.TextContent(css(row(d.ID)+` .c-status`))),
			// The resend is the second newest attempt; open it.
			chromedp.Evaluate[chromedp.Void](`document.querySelectorAll("#d-attempts details")[1].open = true`),
			into(&added, chromedp.Evaluate[[]string](`[...document.querySelectorAll("#d-attempts .diff .d-add")].map((e) => e.textContent)`)),
			into(&removed, chromedp.Evaluate[[]string](`[...document.querySelectorAll("#d-attempts .diff .d-del")].map((e) => e.textContent)`)),
			into(&order, chromedp.Evaluate[string](`[...document.querySelectorAll("#d-attempts .diff span:not(.d-same)")].map((e) => e.className).join(",")`)),
		)...)
		if !strings.HasPrefix(respLine, "201 · resend") {
			t.Errorf("response line %q, want the resend's 201 (the replay elsewhere is apart)", respLine)
		}
		if !above {
			t.Error("the request and response are not above the attempts")
		}
		if !strings.Contains(away, "last: replay → http://staging.example/hooks 503") {
			t.Errorf("elsewhere line %q", away)
		}
		if !strings.Contains(mark, "201") || !strings.Contains(mark, "↪") {
			t.Errorf("status cell %q, want 201 and the ↪ mark", mark)
		}
		if len(added) != 1 || !strings.Contains(added[0], `"payable.approved"`) || len(removed) != 1 || !strings.Contains(removed[0], `"payable.created"`) {
			t.Errorf("diff: added %q, removed %q", added, removed)
		}
		// As diff and git show a change: the old line, then the new.
		if order != "d-del,d-add" {
			t.Errorf("diff order %q, want d-del,d-add", order)
		}
	})

	t.Run("R resends and an edit goes out compacted", func(t *testing.T) {
		ctx := tab(t, browser)
		before := a.n.Load()
		var result string
		run(t, ctx, opened(f.ts.URL, d.ID,
			chromedp.KeyEvent("R"),
			poll(`!document.querySelector("#result").hidden && document.querySelector("#result").className !== "result busy"`),
			into(&result, chromedp.TextContent(css(`#result`))),
		)...)
		if a.n.Load()-before != 1 {
			t.Fatalf("R sent %d requests, want 1; the page says %q", a.n.Load()-before, result)
		}
		body, hdr := a.last()
		if string(body) != string(d.Body) || signing.Verify(hdr, body, secret, time.Now()).State != signing.Valid {
			t.Errorf("R sent %s, signature %s", body, signing.Verify(hdr, body, secret, time.Now()).State)
		}
		run(t, ctx,
			chromedp.Evaluate[chromedp.Void](`(() => { document.querySelector("#result").hidden = true; })()`),
			chromedp.Click(css(`#btn-edit`)),
			chromedp.WaitVisible(css(`#editor-text`)),
			chromedp.Evaluate[chromedp.Void](`(() => { const t = document.querySelector("#editor-text");
				t.value = t.value.replace('"payable.created"', '"payable.approved"'); t.dispatchEvent(new Event("input")); })()`),
			chromedp.Click(css(`#editor-send`)),
			poll(`!document.querySelector("#result").hidden && document.querySelector("#result").className !== "result busy"`),
			into(&result, chromedp.TextContent(css(`#result`))),
		)
		if body, _ := a.last(); string(body) != edited {
			t.Errorf("the edit sent (%s)\n%s\nwant (compacted like the stored body)\n%s", result, body, edited)
		}
	})

	t.Run("800 px", func(t *testing.T) {
		ctx := tab(t, browser)
		var cut []string
		run(t, ctx,
			chromedp.EmulateViewport(800, 600),
			chromedp.Navigate(f.ts.URL),
			chromedp.WaitVisible(css(row(d.ID))),
			ready(),
			into(&cut, chromedp.Evaluate[[]string](`[...document.querySelectorAll("#rows td.c-action, #rows td.c-sig")]
				.filter((td) => td.scrollWidth > td.clientWidth || td.clientWidth < 60)
				.map((td) => td.textContent + " (" + td.clientWidth + "px)")`)),
		)
		if len(cut) > 0 {
			t.Errorf("cut at 800 px: %q", cut)
		}
	})
}
