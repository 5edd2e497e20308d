package relay

import (
	"io"
	"net/http"
	"strings"
	"testing"
)

// TestLoopRefused: a request that hooktap agents have forwarded MaxHops
// times already (told by Via) is refused with 508 and not kept; one that
// went through fewer tunnels is taken as any other.
func TestLoopRefused(t *testing.T) {
	srv, ts := newRelay(t, Config{})
	send := func(via string) int {
		req, _ := http.NewRequest(http.MethodPost, ts.URL+"/h/loop", strings.NewReader(`{"action":"payable.created"}`))
		if via != "" {
			req.Header.Set("Via", via)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if got := send("1.1 hooktap, 1.0 corp-proxy, HTTP/1.1 hooktap"); got != http.StatusLoopDetected {
		t.Fatalf("two hooktap hops: status %d, want 508", got)
	}
	ds, _, err := srv.Buffer().After(t.Context(), "loop", 0, 10, 1<<20)
	if err != nil || len(ds) != 0 {
		t.Fatalf("a refused loop was kept: %v %d", err, len(ds))
	}
	for _, via := range []string{"", "1.1 hooktap", "1.1 corp-proxy, 1.1 hooktapper"} {
		if got := send(via); got != http.StatusAccepted {
			t.Fatalf("Via %q: status %d, want 202", via, got)
		}
	}
}

// TestLoopMessage: the 508 names what can cause it, not only an agent's
// --forward-to: more tunnels than allowed, or a Via copied from a recorded
// request.
func TestLoopMessage(t *testing.T) {
	_, ts := newRelay(t, Config{})
	req, _ := http.NewRequest(http.MethodPost, ts.URL+"/h/loop", strings.NewReader(`{}`))
	req.Header.Set("Via", "1.1 hooktap, 1.1 hooktap")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{"--forward-to or --route points back at a relay", "more than 2 hooktap tunnels are chained", "Via header copied"} {
		if !strings.Contains(string(body), want) {
			t.Errorf("508 says %q; want it to name %q", body, want)
		}
	}
}
