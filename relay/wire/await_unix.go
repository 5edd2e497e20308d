//go:build unix && !linux

package wire

// pollState: nothing here; a waiting connection keeps a goroutine.
type pollState struct{ fd int }

// await calls woken on a goroutine of its own once the socket has
// something to read (bytes, its end or an error), or its read deadline
// passes (then with the error). The goroutine waits in the poller, no
// deeper.
func (f *frameConn) await(woken func(error)) {
	go func() { woken(f.raw.Read(hasInput)) }()
}
