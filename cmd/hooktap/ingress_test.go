package main

import (
	"bufio"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The tests in this file send to the real relay what ordinary clients do
// not: methods a shell would read, CONNECT and TRACE, HTTP/2 without TLS.

// methodApp answers 201 and says which requests it got.
func methodApp(t *testing.T) (*httptest.Server, <-chan string) {
	got := make(chan string, 16)
	app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got <- r.Method + " " + r.URL.RequestURI() + " " + string(b)
		w.Header().Set("Content-Type", "text/plain")
		w.WriteHeader(http.StatusCreated)
		io.WriteString(w, "made "+string(b))
	}))
	t.Cleanup(app.Close)
	return app, got
}

// rawRequest writes req on a new connection to addr and reads the answer.
func rawRequest(t *testing.T, addr, req string) (int, string) {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(20 * time.Second))
	if _, err := io.WriteString(c, req); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("%q: %v", req, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestRelayRefusesOddMethods(t *testing.T) {
	app, got := methodApp(t)
	_, relayURL := startRelay(t)
	db := filepath.Join(t.TempDir(), "agent.db")
	startProc(t, listenArgs(relayURL, "ci", app.URL, db)...).line(t, `"type":"ready"`)
	addr := strings.TrimPrefix(relayURL, "http://")

	for _, c := range []struct {
		method string
		status int
	}{
		{"PUT`touch$IFS'x'`", http.StatusBadRequest}, // a token to Go's server
		{"A|B&&C", http.StatusBadRequest},
		{"GET'", http.StatusBadRequest},
		{"P$X", http.StatusBadRequest},
		{strings.Repeat("A", 33), http.StatusBadRequest},
		{"CONNECT", http.StatusMethodNotAllowed},
		{"TRACE", http.StatusMethodNotAllowed},
	} {
		status, body := rawRequest(t, addr, c.method+" /h/ci/odd HTTP/1.1\r\nHost: relay\r\nContent-Length: 1\r\nConnection: close\r\n\r\nx")
		if status != c.status || !strings.HasPrefix(body, "hooktap: ") || strings.Count(body, "\n") != 1 {
			t.Errorf("%s: %d %q, want %d and one line of hooktap's", c.method, status, body, c.status)
		}
	}

	// A registry method goes through, and it is the first the app sees:
	// the relay kept none of the others for the agent.
	status, body := rawRequest(t, addr, "PROPFIND /h/ci/ok HTTP/1.1\r\nHost: relay\r\nContent-Length: 1\r\nConnection: close\r\n\r\ny")
	if status != http.StatusCreated || body != "made y" {
		t.Fatalf("PROPFIND: %d %q", status, body)
	}
	if first := <-got; first != "PROPFIND /ok y" {
		t.Fatalf("the app got %q first", first)
	}
	out, errOut, code := hooktapOut(t, nil, "events", "list", "--db", db, "--json")
	var methods []string
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		var d struct{ Method string }
		if err := json.Unmarshal([]byte(l), &d); err != nil {
			t.Fatalf("events list: %q %q %d", out, errOut, code)
		}
		methods = append(methods, d.Method)
	}
	if len(methods) != 1 || methods[0] != "PROPFIND" {
		t.Fatalf("the agent stored %q", methods)
	}
}

// A sender that opens with the HTTP/2 preface on plain TCP (h2c with prior
// knowledge) gets the app's answer through an agent, whose WebSocket is on
// the same port.
func TestRelayServesH2C(t *testing.T) {
	app, got := methodApp(t)
	_, relayURL := startRelay(t)
	db := filepath.Join(t.TempDir(), "agent.db")
	startProc(t, listenArgs(relayURL, "ci", app.URL, db)...).line(t, `"type":"ready"`)

	var h2c http.Protocols
	h2c.SetUnencryptedHTTP2(true)
	tr := &http.Transport{Protocols: &h2c}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 20 * time.Second}
	for _, body := range []string{"one", "two"} {
		resp, err := client.Post(relayURL+"/h/ci/h2?x=1", "text/plain", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.ProtoMajor != 2 || resp.StatusCode != http.StatusCreated || string(b) != "made "+body || resp.Header.Get("X-Hooktap-Delivery") == "" {
			t.Fatalf("%s: %s %d %q %v", body, resp.Proto, resp.StatusCode, b, resp.Header)
		}
		if g := <-got; g != "POST /h2?x=1 "+body {
			t.Fatalf("the app got %q", g)
		}
	}
}
