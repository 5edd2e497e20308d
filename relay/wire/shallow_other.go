//go:build !unix

package wire

import "net"

// newFrameConn wraps nothing here: connections keep a goroutine parked in
// the read, as on TLS.
func newFrameConn(net.Conn) *frameConn { return nil }

func (f *frameConn) wait() error    { return nil }
func (f *frameConn) readable() bool { return true }
