package wire

import (
	"encoding/binary"
	"math"
	"net"
	"sync"
	"syscall"
)

// frameConn is the socket under a server's WebSocket (Accept). It hands
// the websocket.Conn reading it the frames the client sends, never a byte
// past the end of the frame being read: so once a message is read the
// websocket.Conn holds nothing unread, and an idle connection can wait for
// its next bytes on a shallow goroutine of its own (Serve) instead of deep
// in the websocket.Conn's read. Pings and pongs, which arrive alone on an
// idle connection, it answers itself and does not hand on; any other frame
// (data, close, or malformed: the websocket.Conn reports it) goes through
// as it is.
type frameConn struct {
	net.Conn
	raw  syscall.RawConn // to see whether the socket is readable
	poll pollState       // waiting for it to be (await)

	buf  *[]byte // what was read from the socket and not handed on; nil when empty
	r, w int     // (*buf)[r:w] is unread
	err  error   // the socket's read error, once buf is drained
	left int64   // bytes of the current frame not handed on yet

	ping func(payload []byte) // answers a ping
	pong func()               // told of a pong
}

// frameBufSize is the size of a frameConn's buffer: the socket is read in
// pieces this large at most.
const frameBufSize = 4 << 10

// readBufs holds frameConns' buffers: one is held only while bytes wait in
// it, so an idle connection holds none.
var readBufs = sync.Pool{New: func() any { b := make([]byte, frameBufSize); return &b }}

// Read hands on the next bytes of the current frame, or of the next frame
// that is not a ping or pong.
func (f *frameConn) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	for f.left == 0 {
		if err := f.nextFrame(); err != nil {
			return 0, err
		}
	}
	p = p[:min(int64(len(p)), f.left)]
	var n int
	var err error
	switch {
	case f.r < f.w:
		n = copy(p, (*f.buf)[f.r:f.w])
		f.r += n
		f.release()
	case f.err != nil:
		err = f.err
	default:
		n, err = f.Conn.Read(p) // nothing held: straight from the socket
	}
	f.left -= int64(n)
	return n, err
}

// nextFrame starts the next frame that is not a ping or a pong, answering
// those on the way.
func (f *frameConn) nextFrame() error {
	for {
		b := f.held()
		hdr, size, ok := frameHeader(b)
		switch {
		case !ok:
			// Read on until the header is whole.
		case !controlFrame(b):
			f.left = math.MaxInt64
			if size <= math.MaxInt64-int64(hdr) {
				f.left = int64(hdr) + size
			}
			return nil
		case len(b) >= hdr+int(size):
			f.takeControl(hdr, int(size))
			continue
		}
		if err := f.fill(len(b) + 1); err != nil {
			return err
		}
	}
}

// idle reports whether nothing of the client's waits to be read, once the
// pings and pongs that came are answered: no bytes held here nor on the
// socket. Call it between messages. It never waits for the client.
func (f *frameConn) idle() bool {
	for {
		if f.left > 0 || f.err != nil {
			return false
		}
		for {
			b := f.held()
			hdr, size, ok := frameHeader(b)
			if !ok || !controlFrame(b) || len(b) < hdr+int(size) {
				break
			}
			f.takeControl(hdr, int(size))
		}
		if f.r < f.w {
			return false
		}
		if !f.readable() {
			return true
		}
		_ = f.fill(1) // does not wait: the socket has something (maybe its end)
	}
}

// held is what was read and not handed on.
func (f *frameConn) held() []byte {
	if f.buf == nil {
		return nil
	}
	return (*f.buf)[f.r:f.w]
}

// fill reads from the socket until n bytes are held.
func (f *frameConn) fill(n int) error {
	if f.buf == nil {
		f.buf = readBufs.Get().(*[]byte)
		f.r, f.w = 0, 0
	}
	if f.r > 0 && len(*f.buf)-f.r < n {
		f.w = copy(*f.buf, (*f.buf)[f.r:f.w])
		f.r = 0
	}
	for f.w-f.r < n {
		if f.err != nil {
			f.release()
			return f.err
		}
		m, err := f.Conn.Read((*f.buf)[f.w:])
		f.w += m
		f.err = err
	}
	return nil
}

// release gives the buffer back once it holds nothing.
func (f *frameConn) release() {
	if f.buf != nil && f.r == f.w {
		readBufs.Put(f.buf)
		f.buf, f.r, f.w = nil, 0, 0
	}
}

// takeControl answers the ping or pong held at the start of the buffer,
// with a header of hdr bytes and size bytes of payload, and drops it.
func (f *frameConn) takeControl(hdr, size int) {
	b := (*f.buf)[f.r : f.r+hdr+size]
	payload := b[hdr:]
	key := b[hdr-4 : hdr]
	for i := range payload {
		payload[i] ^= key[i%4]
	}
	if b[0]&0xf == pingOpcode {
		f.ping(payload) // before the buffer is released: payload is in it
	} else {
		f.pong()
	}
	f.r += hdr + size
	f.release()
}

// Frame opcodes and header bits (RFC 6455, section 5.2).
const (
	finBit       = 0x80
	rsvBits      = 0x70
	maskBit      = 0x80
	pingOpcode   = 0x9
	pongOpcode   = 0xa
	maxControlLn = 125
)

// frameHeader parses the header at the start of b: its size and the
// payload's. ok is false when b does not hold the whole header.
func frameHeader(b []byte) (hdr int, size int64, ok bool) {
	if len(b) < 2 {
		return 0, 0, false
	}
	hdr = 2
	switch b[1] &^ maskBit {
	case 126:
		hdr += 2
	case 127:
		hdr += 8
	}
	if b[1]&maskBit != 0 {
		hdr += 4
	}
	if len(b) < hdr {
		return 0, 0, false
	}
	switch n := b[1] &^ maskBit; n {
	case 126:
		size = int64(binary.BigEndian.Uint16(b[2:]))
	case 127:
		u := binary.BigEndian.Uint64(b[2:])
		// More is malformed: the websocket.Conn reads it as a negative
		// length and fails, and Conn closes with 1002 (closeFor).
		size = int64(min(u, math.MaxInt64))
	default:
		size = int64(n)
	}
	return hdr, size, true
}

// controlFrame reports whether the whole header at the start of b is a
// well-formed ping or pong from a client: final, masked, no reserved bits,
// a payload of at most 125 bytes. Anything else is handed on, for the
// websocket.Conn to read, or to reject.
func controlFrame(b []byte) bool {
	op := b[0] & 0xf
	return (op == pingOpcode || op == pongOpcode) &&
		b[0]&finBit != 0 && b[0]&rsvBits == 0 &&
		b[1]&maskBit != 0 && b[1]&^maskBit <= maxControlLn
}
