package relay

import "github.com/hooktap/hooktap/relay/wire"

// Attach serves an agent that runs in this process (hooktap dev) on conn,
// one end of a wire.Pipe, as it serves one that connects over WebSocket:
// the same hello, sessions, window and acks, with deliveries handed over
// in memory. base is the relay's URL, for the channel's URL in the
// welcome. It returns at once; the session ends when either end closes
// or the relay does.
func (s *Server) Attach(conn *wire.Conn, base string) {
	if !s.startSession(func(end func()) { s.runAgent(conn, peer{base: base, remote: inProcess}, end) }) {
		conn.Abort()
	}
}

// inProcess is the remote address the relay gives (and logs for) an agent
// attached in memory.
const inProcess = "in-process"
