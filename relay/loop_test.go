package relay

import (
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
