package wire

import (
	"bufio"
	"net"
	"net/http"

	"github.com/gorilla/websocket"
)

// Accept upgrades an agent's request to a connection, as u.Upgrade does.
// Over plain TCP, on unix, the socket is read through a frameConn, so that
// Serve keeps no goroutine deep in a read while the agent is idle. u must
// have a ReadBufferSize: without one, websocket.Conn may read the socket
// past the frameConn.
func Accept(u *websocket.Upgrader, w http.ResponseWriter, r *http.Request) (*Conn, error) {
	h := &hijacker{ResponseWriter: w, wrap: u.ReadBufferSize > 0}
	ws, err := u.Upgrade(h, r, nil)
	if err != nil {
		return nil, err
	}
	c := NewConn(ws)
	if h.fc != nil {
		h.fc.ping, h.fc.pong = c.answerPing, func() { _ = c.gotPong() }
		c.fc = h.fc
	}
	return c, nil
}

// hijacker hands the upgrader the socket wrapped in a frameConn.
type hijacker struct {
	http.ResponseWriter
	wrap bool
	fc   *frameConn
}

func (h *hijacker) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	c, brw, err := http.NewResponseController(h.ResponseWriter).Hijack()
	if err != nil || !h.wrap {
		return c, brw, err
	}
	if h.fc = newFrameConn(c); h.fc == nil {
		return c, brw, nil
	}
	return h.fc, brw, nil
}
