package relay

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/hooktap/hooktap/relay/wire"
)

// newRealServer serves the relay with its own http.Server settings
// (timeouts, header limits), as `hooktap relay` does.
func newRealServer(t *testing.T, cfg Config) *httptest.Server {
	t.Helper()
	cfg.DataDir = t.TempDir()
	srv, err := New(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewUnstartedServer(nil)
	ts.Config = srv.NewHTTPServer()
	ts.Start()
	t.Cleanup(func() {
		ts.CloseClientConnections()
		ts.Close()
		srv.Close()
	})
	return ts
}

func TestSlowlorisIsCutOff(t *testing.T) {
	ts := newRealServer(t, Config{ReadHeaderTimeout: 300 * time.Millisecond})
	c, err := net.Dial("tcp", ts.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	io.WriteString(c, "POST /h/dev HTTP/1.1\r\nHost: x\r\nX-Slow: ") // and never finish
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	start := time.Now()
	_, err = io.ReadAll(c)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatal("the relay kept a slow sender's connection open")
	}
	if time.Since(start) > 4*time.Second {
		t.Fatalf("cut off after %v", time.Since(start))
	}
	// Still serving.
	resp, err := http.Get(ts.URL + "/healthz")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("healthz after slowloris: %v", err)
	}
}

func TestHeaderFloodIsRefused(t *testing.T) {
	ts := newRealServer(t, Config{})
	c, err := net.Dial("tcp", ts.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var req bytes.Buffer
	req.WriteString("POST /h/dev HTTP/1.1\r\nHost: x\r\n")
	for i := 0; i < 2000; i++ {
		req.WriteString("X-Flood: " + strings.Repeat("a", 100) + "\r\n")
	}
	req.WriteString("Content-Length: 0\r\n\r\n")
	go c.Write(req.Bytes())
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
		t.Fatalf("status %d, want 431", resp.StatusCode)
	}
}

func TestOversizedFrameClosesWithReason(t *testing.T) {
	ts := newRealServer(t, Config{})
	ws, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(ts.URL, "http")+AgentPath, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	b, _ := wire.Encode(&wire.Hello{Channel: "dev", AgentID: "agt_big", AgentKey: testKey("agt_big")})
	ws.WriteMessage(websocket.TextMessage, b)
	if _, _, err := ws.ReadMessage(); err != nil { // welcome
		t.Fatal(err)
	}
	big := bytes.Repeat([]byte("x"), wire.MaxFrameSize+1024)
	go ws.WriteMessage(websocket.TextMessage, big)
	ws.SetReadDeadline(time.Now().Add(10 * time.Second))
	for {
		_, _, err := ws.ReadMessage()
		if err == nil {
			continue
		}
		var ce *websocket.CloseError
		if !errors.As(err, &ce) || ce.Code != websocket.CloseMessageTooBig {
			t.Fatalf("want close 1009 (message too big), got %v", err)
		}
		return
	}
}
