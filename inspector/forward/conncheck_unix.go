//go:build unix

package forward

import (
	"crypto/tls"
	"net"
	"syscall"
)

// stillOpen reports whether an idle connection is still open: the app has not
// closed it (as apps do with idle connections after a few seconds) and
// sent nothing unasked. One non-blocking peek, no waiting.
func stillOpen(c net.Conn) bool {
	if tc, ok := c.(*tls.Conn); ok {
		// Whatever the app sent on an idle TLS connection (a close_notify
		// alert, usually) means it is done with it.
		c = tc.NetConn()
	}
	sc, ok := c.(syscall.Conn)
	if !ok {
		return true // the write finds out, and the request is retried
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
