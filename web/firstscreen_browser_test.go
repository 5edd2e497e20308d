package web

import (
	"encoding/json"
	"net/http"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/hooktap/hooktap/inspector/live"
	"github.com/hooktap/hooktap/inspector/store"
)

// TestBrowserFirstScreen is the page of an agent just started: the header
// says nothing listens on the forward target (and turns green when the app
// comes up), the empty list shows a curl command that works when pasted
// into sh, and the relay connection's reason shows while reconnecting.
func TestBrowserFirstScreen(t *testing.T) {
	f := newFixture(t, "")
	ingress := newApp(t, 200) // stands for the relay: where the webhook URL points
	url := ingress.URL + "/h/dev"
	down := live.AppHealth{Target: "http://localhost:3000/webhooks", Addr: "localhost:3000",
		Checked: true, Err: "connection refused", Since: time.Now()}
	f.bus.Publish(live.Event{Kind: live.EventRelay, Relay: live.RelayStatus{State: live.StateConnected,
		Relay: ingress.URL, URL: url, Target: down.Target}})
	f.bus.Publish(live.Event{Kind: live.EventApp, App: down})

	// The status API carries the same state.
	resp, err := http.Get(f.ts.URL + "/api/status")
	if err != nil {
		t.Fatal(err)
	}
	var st statusResponse
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if st.App == nil || st.App.Listening || st.App.Problem != down.Problem() || st.Conn == nil || st.Conn.TryCurl != store.ExampleCurl(url) {
		t.Fatalf("status %+v app %+v conn %+v", st, st.App, st.Conn)
	}

	ctx := tab(t, newBrowser(t))
	var curl, trigger, app string
	run(t, ctx,
		chromedp.Navigate(f.ts.URL),
		ready(),
		chromedp.WaitVisible(css(`#try-curl`)),
		into(&curl, chromedp.TextContent(css(`#try-curl`))),
		into(&trigger, chromedp.TextContent(css(`#try-trigger`))),
		poll(`!document.querySelector("#app").hidden`),
		into(&app, chromedp.TextContent(css(`#app`))),
	)
	if app != down.Problem() {
		t.Errorf("header says %q, want %q", app, down.Problem())
	}
	if trigger != "hooktap trigger payable.created --to '"+url+"'" {
		t.Errorf("trigger command %q", trigger)
	}
	// Pasted into sh as shown, the curl command delivers.
	if out, err := exec.Command("sh", "-c", curl).CombinedOutput(); err != nil {
		t.Fatalf("sh -c %q: %v\n%s", curl, err, out)
	}
	if n := ingress.n.Load(); n != 1 {
		t.Fatalf("the webhook URL got %d requests, want 1", n)
	}
	if body, head := ingress.last(); !strings.Contains(string(body), `"action":"payable.created"`) || head.Get("Content-Type") != "application/json" {
		t.Errorf("got %q (%s)", body, head.Get("Content-Type"))
	}

	// The app comes up: green, without a reload.
	up := down
	up.Listening, up.Err = true, ""
	f.bus.Publish(live.Event{Kind: live.EventApp, App: up})
	run(t, ctx, poll(`document.querySelector("#app").className === "app up" && document.querySelector("#app").textContent === "● app listening on localhost:3000"`))

	// The relay goes away: the reason shows.
	f.bus.Publish(live.Event{Kind: live.EventRelay, Relay: live.RelayStatus{State: live.StateReconnecting,
		Relay: ingress.URL, Target: down.Target, RetryAt: time.Now().Add(5 * time.Second), Reason: "connection refused"}})
	run(t, ctx, poll(`document.querySelector("#conn-text").textContent.endsWith("(connection refused)")`))
}
