//go:build !unix

package wire

import "net"

// newFrameConn wraps nothing here: connections keep a goroutine parked in
// the read, as on TLS.
func newFrameConn(net.Conn) *frameConn { return nil }

type pollState struct{}

func (f *frameConn) await(func(error)) {}
func (f *frameConn) readable() bool    { return true }
