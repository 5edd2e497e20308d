package wire

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// clientFrame is a frame as a client sends it: masked, with the shortest
// length encoding unless ext asks for a 16-bit (2) or 64-bit (8) one.
func clientFrame(fin bool, op byte, payload []byte, ext int) []byte {
	b0 := op
	if fin {
		b0 |= 0x80
	}
	f := []byte{b0}
	n := len(payload)
	switch {
	case ext == 8 || n > 0xffff:
		f = append(f, 0x80|127)
		f = binary.BigEndian.AppendUint64(f, uint64(n))
	case ext == 2 || n > 125:
		f = append(f, 0x80|126)
		f = binary.BigEndian.AppendUint16(f, uint16(n))
	default:
		f = append(f, 0x80|byte(n))
	}
	key := []byte{0x37, 0xfa, 0x21, 0x3d}
	f = append(f, key...)
	for i, c := range payload {
		f = append(f, c^key[i%4])
	}
	return f
}

// tcpPair is both ends of a TCP connection on 127.0.0.1.
func tcpPair(t *testing.T) (server, client net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	client, err = net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	server, err = ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { server.Close(); client.Close() })
	return server, client
}

// trickle reads one byte at a time: every header arrives in pieces.
type trickle struct{ net.Conn }

func (c trickle) Read(p []byte) (int, error) { return c.Conn.Read(p[:min(len(p), 1)]) }

// TestFrameConnHandsOnFramesOneAtATime: data and close frames come out as
// they went in, each Read within one frame, whatever the length encoding
// and however the socket splits them; pings and pongs do not come out but
// are answered, with their payload unmasked.
func TestFrameConnHandsOnFramesOneAtATime(t *testing.T) {
	big := bytes.Repeat([]byte("0123456789"), 7000) // 70,000 bytes: a 64-bit length
	frames := [][]byte{
		clientFrame(true, websocket.TextMessage, []byte(`{"type":"hello"}`), 0),
		clientFrame(true, websocket.BinaryMessage, bytes.Repeat([]byte{7}, 300), 0), // 16-bit length
		clientFrame(true, websocket.BinaryMessage, []byte("short, long form"), 2),
		clientFrame(true, websocket.BinaryMessage, []byte("short, longest form"), 8),
		clientFrame(true, websocket.BinaryMessage, big, 0),
		clientFrame(false, websocket.TextMessage, []byte("frag"), 0),
		clientFrame(true, websocket.PingMessage, []byte("between"), 0),
		clientFrame(true, 0, []byte("ment"), 0), // continuation
		clientFrame(true, websocket.PongMessage, nil, 0),
		clientFrame(true, websocket.CloseMessage, []byte{0x03, 0xe8}, 0),
	}
	var want [][]byte // what comes out: all but the ping and the pong
	for _, f := range frames {
		if op := f[0] & 0xf; op != websocket.PingMessage && op != websocket.PongMessage {
			want = append(want, f)
		}
	}
	for _, tc := range []struct {
		name  string
		slow  bool
		chunk int
	}{{"whole", false, 64 << 10}, {"one byte at a time", true, 64 << 10}, {"small reads", false, 3}} {
		t.Run(tc.name, func(t *testing.T) {
			server, client := tcpPair(t)
			fc := &frameConn{Conn: server}
			if tc.slow {
				fc.Conn = trickle{server}
			}
			var pings [][]byte
			pongs := 0
			fc.ping = func(p []byte) { pings = append(pings, bytes.Clone(p)) }
			fc.pong = func() { pongs++ }
			go func() {
				for _, f := range frames {
					client.Write(f)
				}
			}()
			for i, w := range want {
				var got []byte
				for len(got) < len(w) {
					// Room for more than the frame holds: a read must stop at its end.
					p := make([]byte, min(tc.chunk, len(w)-len(got)+5))
					n, err := fc.Read(p)
					if err != nil {
						t.Fatalf("frame %d: %v", i, err)
					}
					got = append(got, p[:n]...)
				}
				if !bytes.Equal(got, w) {
					t.Fatalf("frame %d: got %d bytes % x..., want % x...", i, len(got), got[:min(len(got), 16)], w[:min(len(w), 16)])
				}
			}
			if len(pings) != 1 || string(pings[0]) != "between" || pongs != 1 {
				t.Fatalf("pings %q, pongs %d; want [between] and 1", pings, pongs)
			}
			if fc.buf != nil {
				t.Fatal("the buffer is held after the last frame")
			}
		})
	}
}

// accepted is a connection from Accept, and its client's socket, under
// the client's WebSocket.
func accepted(t *testing.T, tlsServer bool) (*Conn, *websocket.Conn, net.Conn) {
	t.Helper()
	conns := make(chan *Conn, 1)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := Accept(&websocket.Upgrader{ReadBufferSize: 256}, w, r)
		if err != nil {
			t.Error(err)
		}
		conns <- c
	})
	ts := httptest.NewUnstartedServer(h)
	d := *websocket.DefaultDialer
	if tlsServer {
		ts.StartTLS()
		d.TLSClientConfig = ts.Client().Transport.(*http.Transport).TLSClientConfig
	} else {
		ts.Start()
	}
	t.Cleanup(ts.Close)
	ws, _, err := d.Dial("ws"+strings.TrimPrefix(ts.URL, "http"), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ws.Close() })
	c := <-conns
	if c == nil {
		t.FailNow()
	}
	return c, ws, ws.UnderlyingConn()
}

// readRaw reads want off conn.
func readRaw(t *testing.T, conn net.Conn, want []byte) {
	t.Helper()
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	got := make([]byte, len(want))
	if _, err := io.ReadFull(conn, got); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("read % x, want % x", got, want)
	}
}

// TestServeAnswersPingsWhileIdle: a connection served by Serve reads
// messages, fragmented ones with a ping between the pieces too, answers
// pings that come alone and takes pongs (Alive), and ends with Close.
func TestServeAnswersPingsWhileIdle(t *testing.T) {
	c, ws, raw := accepted(t, false)
	if c.fc == nil {
		t.Fatal("a plain TCP connection is not read through a frameConn")
	}
	msgs := make(chan Message, 4)
	done := make(chan error, 1)
	c.Serve(t.Context(), func(m Message) error { msgs <- m; return nil }, func(err error) { done <- err })

	b, _ := Encode(&Error{Code: "one"})
	if err := ws.WriteMessage(websocket.TextMessage, b); err != nil {
		t.Fatal(err)
	}
	if m := <-msgs; m.(*Error).Code != "one" {
		t.Fatalf("got %+v", m)
	}

	raw.Write(clientFrame(true, websocket.PingMessage, []byte("alone"), 0))
	readRaw(t, raw, append([]byte{0x8a, 5}, "alone"...))

	alive := make(chan bool, 1)
	go func() { alive <- c.Alive(5 * time.Second) }()
	readRaw(t, raw, []byte{0x89, 0})
	raw.Write(clientFrame(true, websocket.PongMessage, nil, 0))
	if !<-alive {
		t.Fatal("Alive missed the pong")
	}

	b, _ = Encode(&Error{Code: "two"})
	raw.Write(append(append(clientFrame(false, websocket.TextMessage, b[:5], 0),
		clientFrame(true, websocket.PingMessage, []byte("mid"), 0)...),
		clientFrame(true, 0, b[5:], 0)...))
	readRaw(t, raw, append([]byte{0x8a, 3}, "mid"...))
	if m := <-msgs; m.(*Error).Code != "two" {
		t.Fatalf("got %+v", m)
	}

	c.Close(websocket.CloseNormalClosure, "bye")
	readRaw(t, raw, append([]byte{0x88, 5, 0x03, 0xe8}, "bye"...))
	raw.Write(clientFrame(true, websocket.CloseMessage, []byte{0x03, 0xe8}, 0))
	if err := <-done; !errors.Is(err, ErrClosed) {
		t.Fatalf("Serve ended with %v, want ErrClosed", err)
	}
}

// TestServeOverTLS: a TLS connection is not wrapped, and is served as Run
// serves it.
func TestServeOverTLS(t *testing.T) {
	c, ws, _ := accepted(t, true)
	if c.fc != nil {
		t.Fatal("a TLS connection is read through a frameConn")
	}
	msgs := make(chan Message, 1)
	c.Serve(context.Background(), func(m Message) error { msgs <- m; return nil }, func(error) {})
	b, _ := Encode(&Error{Code: "tls"})
	if err := ws.WriteMessage(websocket.TextMessage, b); err != nil {
		t.Fatal(err)
	}
	if m := <-msgs; m.(*Error).Code != "tls" {
		t.Fatalf("got %+v", m)
	}
	c.Abort()
}

// TestAcceptedConnRejectsMalformedFrames: what the frameConn does not
// take is read by the websocket.Conn, which rejects it as it always has.
func TestAcceptedConnRejectsMalformedFrames(t *testing.T) {
	ping := clientFrame(true, websocket.PingMessage, []byte("x"), 0)
	unmasked := []byte{ping[0], 1, 'x'}
	longPing := clientFrame(true, websocket.PingMessage, bytes.Repeat([]byte("x"), 126), 0)
	tooLong := []byte{0x82, 0x80 | 127}
	tooLong = append(binary.BigEndian.AppendUint64(tooLong, MaxFrameSize+1), 1, 2, 3, 4) // and a mask key
	for _, tc := range []struct {
		name  string
		frame []byte
		want  string
	}{
		{"garbage opcode", clientFrame(true, 3, []byte("?"), 0), "bad opcode 3"},
		{"unmasked ping", unmasked, "bad MASK"},
		{"ping over 125 bytes", longPing, "len > 125 for control"},
		{"fragmented ping", clientFrame(false, websocket.PingMessage, nil, 0), "FIN not set on control"},
		{"longer than the read limit", tooLong, websocket.ErrReadLimit.Error()},
		{"close", clientFrame(true, websocket.CloseMessage, []byte{0x03, 0xe8}, 0), "close 1000"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, _, raw := accepted(t, false)
			raw.Write(tc.frame)
			c.ws.SetReadDeadline(time.Now().Add(5 * time.Second))
			_, _, err := c.ws.ReadMessage()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error with %q", err, tc.want)
			}
		})
	}
}

// TestSilentPeerClosedGoingAway: a peer that sends nothing for the read
// wait is closed with 1001 (going away) and a reason that says so, over
// plain TCP (Serve's shallow wait) and TLS (a read parked in the
// websocket.Conn); not with 1000 and no reason.
func TestSilentPeerClosedGoingAway(t *testing.T) {
	for _, tlsServer := range []bool{false, true} {
		c, ws, _ := accepted(t, tlsServer)
		c.readWait = 300 * time.Millisecond
		done := make(chan error, 1)
		c.Serve(t.Context(), func(Message) error { return nil }, func(err error) { done <- err })
		ws.SetReadDeadline(time.Now().Add(10 * time.Second))
		_, _, err := ws.ReadMessage()
		var ce *websocket.CloseError
		if !errors.As(err, &ce) || ce.Code != websocket.CloseGoingAway || ce.Text != "no frames for 0.3s" {
			t.Errorf("tls %v: the silent client read %v, want close 1001 \"no frames for 0.3s\"", tlsServer, err)
		}
		if err := <-done; err == nil {
			t.Errorf("tls %v: Serve ended without an error", tlsServer)
		}
	}
}

// TestNegativeFrameLengthIsProtocolError: a client frame whose 64-bit
// length has its top bit set (RFC 6455 5.2 forbids it) is closed with 1002
// (protocol error), over plain TCP (through the frameConn) and TLS.
func TestNegativeFrameLengthIsProtocolError(t *testing.T) {
	for _, tlsServer := range []bool{false, true} {
		c, ws, raw := accepted(t, tlsServer)
		done := make(chan error, 1)
		c.Serve(t.Context(), func(Message) error { return nil }, func(err error) { done <- err })
		frame := binary.BigEndian.AppendUint64([]byte{0x82, 0x80 | 127}, 1<<63|5)
		raw.Write(append(frame, 1, 2, 3, 4, 'h', 'e', 'l', 'l', 'o'))
		ws.SetReadDeadline(time.Now().Add(10 * time.Second))
		_, _, err := ws.ReadMessage()
		var ce *websocket.CloseError
		if !errors.As(err, &ce) || ce.Code != websocket.CloseProtocolError {
			t.Errorf("tls %v: after a frame with a negative length the client read %v, want close 1002", tlsServer, err)
		}
		if err := <-done; err == nil {
			t.Errorf("tls %v: Serve ended without an error", tlsServer)
		}
	}
}
