//go:build unix

package inspector

import (
	"net"
	"syscall"
)

// stillOpen reports whether an idle connection is still open: the app has not
// closed it (as apps do with idle connections after a few seconds) and
// sent nothing unasked. One non-blocking peek, no waiting.
func stillOpen(c net.Conn) bool {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return true // TLS: the write finds out, and the request is retried
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return false
	}
	alive := false
	err = rc.Read(func(fd uintptr) bool {
		var b [1]byte
		_, _, err := syscall.Recvfrom(int(fd), b[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		alive = err == syscall.EAGAIN || err == syscall.EWOULDBLOCK
		return true
	})
	return err == nil && alive
}
