//go:build unix

package wire

import (
	"net"
	"syscall"
)

// newFrameConn wraps a plain TCP socket; other sockets (TLS) are read as
// they are, and their connections keep a goroutine parked in the read.
func newFrameConn(c net.Conn) *frameConn {
	tc, ok := c.(*net.TCPConn)
	if !ok {
		return nil
	}
	raw, err := tc.SyscallConn()
	if err != nil {
		return nil
	}
	f := &frameConn{Conn: tc, raw: raw}
	_ = raw.Control(func(fd uintptr) { f.poll.fd = int(fd) })
	return f
}

// readable reports whether the socket has something to read, without
// waiting.
func (f *frameConn) readable() bool {
	ready := true
	err := f.raw.Read(func(fd uintptr) bool {
		ready = hasInput(fd)
		return true
	})
	return ready || err != nil
}

// hasInput peeks at the socket without waiting: false only when it has
// nothing to read yet.
func hasInput(fd uintptr) bool {
	var b [1]byte
	_, _, err := syscall.Recvfrom(int(fd), b[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
	return err != syscall.EAGAIN && err != syscall.EWOULDBLOCK
}
