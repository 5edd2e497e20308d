package provider_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/hooktap/hooktap/inspector/provider"
)

// newBrowser starts a headless Chromium (as the web inspector's browser
// tests do); without one the test fails and says how to get it.
func newBrowser(t *testing.T) context.Context {
	t.Helper()
	path := ""
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			path = p
			break
		}
	}
	if path == "" {
		t.Fatal("chromium not found: install it (apt-get install -y chromium) to run the emulator page's browser test")
	}
	dir := t.TempDir()
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), chromedp.ExecPath(path), chromedp.Headless,
		chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun, chromedp.UserDataDir(dir),
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-extensions", true))
	ctx, cancelBrowser := chromedp.NewContext(allocCtx)
	ctx, cancelTimeout := context.WithTimeout(ctx, 60*time.Second)
	t.Cleanup(func() { cancelTimeout(); cancelBrowser(); cancelAlloc() })
	return ctx
}

// TestPage: the emulator's page lists subscriptions and the delivery log,
// shows a delivery's attempts, and shows an app's answer as text even when
// it is HTML.
func TestPage(t *testing.T) {
	em := startEmulator(t, provider.Config{Schedule: []time.Duration{time.Millisecond}})
	m := client(t, em.URL)
	const evil = `<img src=x onerror="window.__pwned=1">`
	var n atomic.Int32
	app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1) == 1 {
			w.WriteHeader(500)
		}
		w.Write([]byte(evil))
	}))
	defer app.Close()
	s := m.create("payable", app.URL+"/hooks")
	m.emit("payable.created")
	waitFor(t, "both attempts", func() bool { l := m.log(""); return len(l) == 1 && l[0].WasSuccessful })

	ctx := newBrowser(t)
	var subs, attempts string
	var pwned bool
	err := chromedp.Do(ctx,
		chromedp.Navigate(em.URL+"/_emulator/"),
		chromedp.WaitVisible(chromedp.CSS(`#log tr.log`)),
		chromedp.Click(chromedp.CSS(`#log tr.log`)),
		chromedp.Poll[chromedp.Void](`document.querySelectorAll("#attempts tr").length === 2`, chromedp.WithPollingTimeout(15*time.Second)),
		into(&subs, chromedp.Text(chromedp.CSS(`#subs`))),
		into(&attempts, chromedp.Text(chromedp.CSS(`#attempts`))),
		into(&pwned, chromedp.Evaluate[bool](`window.__pwned === 1`)),
	)
	if err != nil {
		t.Fatal(err)
	}
	if pwned {
		t.Fatal("an app's answer ran as code in the page")
	}
	if !strings.Contains(subs, s.ID) || !strings.Contains(subs, app.URL+"/hooks") || !strings.Contains(attempts, evil) || !strings.Contains(attempts, "500") {
		t.Fatalf("page shows subscriptions %q, attempts %q", subs, attempts)
	}
	if strings.Contains(subs, s.Secret) {
		t.Fatal("the page shows a secret")
	}
}

func into[T any](dst *T, a chromedp.Action[T]) chromedp.Action[chromedp.Void] {
	return func(ctx context.Context, t *chromedp.Target) (chromedp.Void, error) {
		v, err := a(ctx, t)
		*dst = v
		return chromedp.Void{}, err
	}
}
