package relay

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/gorilla/websocket"

	"github.com/hooktap/hooktap/relay/wire"
)

// BenchmarkIngressAnswered is one POST answered by a connected agent, one
// at a time, through the relay's HTTP handler and WebSocket: the
// single-node path the log and signals seam must not slow down.
func BenchmarkIngressAnswered(b *testing.B) {
	cfg := Config{DataDir: b.TempDir()}
	srv, err := New(b.Context(), cfg)
	if err != nil {
		b.Fatal(err)
	}
	ts := newBenchServer(b, srv)
	ws, _, err := websocket.DefaultDialer.Dial("ws"+ts.URL[len("http"):]+AgentPath, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer ws.Close()
	hb, _ := wire.Encode(&wire.Hello{Channel: "c", AgentID: "a", AgentKey: testKey("a")})
	ws.WriteMessage(websocket.TextMessage, hb)
	if _, _, err := ws.ReadMessage(); err != nil { // welcome
		b.Fatal(err)
	}
	go func() {
		for {
			_, m, err := ws.ReadMessage()
			if err != nil {
				return
			}
			msg, err := wire.Decode(m)
			if err != nil {
				continue
			}
			if d, ok := msg.(*wire.Delivery); ok {
				ab, _ := wire.Encode(&wire.Ack{ID: d.ID, Seq: d.Seq, Status: 200, Body: []byte("ok")})
				ws.WriteMessage(websocket.TextMessage, ab)
			}
		}
	}()
	body := bytes.Repeat([]byte("x"), 400)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		resp, err := http.Post(ts.URL+"/h/c", "application/json", bytes.NewReader(body))
		if err != nil {
			b.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			b.Fatalf("status %d", resp.StatusCode)
		}
	}
}

func newBenchServer(b *testing.B, srv *Server) *httptest.Server {
	ts := httptest.NewServer(srv.Handler())
	b.Cleanup(func() {
		ts.CloseClientConnections()
		ts.Close()
		srv.Close()
	})
	return ts
}
