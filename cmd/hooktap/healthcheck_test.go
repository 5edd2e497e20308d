package main

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestHealthcheck(t *testing.T) {
	_, relayURL := startRelay(t)
	out, errOut, code := hooktapOut(t, nil, "healthcheck", relayURL+"/healthz")
	if code != 0 || !strings.HasPrefix(out, "healthy: 200") {
		t.Errorf("healthcheck of a running relay: exit %d %q %q", code, out, errOut)
	}
	sick := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(503) }))
	defer sick.Close()
	_, errOut, code = hooktapOut(t, nil, "healthcheck", sick.URL+"/healthz")
	if code != 1 || !strings.Contains(errOut, "503") {
		t.Errorf("healthcheck of a 503: exit %d %q", code, errOut)
	}
	addr := sick.Listener.Addr().String()
	sick.Close()
	_, errOut, code = hooktapOut(t, nil, "healthcheck", "http://"+addr+"/healthz")
	if code != 1 || !strings.Contains(errOut, "unhealthy") {
		t.Errorf("healthcheck of nothing: exit %d %q", code, errOut)
	}
	oneLine(t, `bad URL "nonsense"`, "healthcheck", "nonsense")
}
