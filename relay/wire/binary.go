package wire

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"net/http"
	"time"
)

// The binary form carries the messages of the hot path, deliveries and
// acks, in binary WebSocket frames: bodies as they are (no base64), no JSON
// to parse, and several messages in one frame when they are ready at the
// same time. Peers use it only when both said so in the handshake
// (Hello.Binary, then Welcome.Binary); everything else stays JSON.
//
// A frame is a format byte (binaryFormat) followed by records. A record is
// a kind byte, the length of its data as a uvarint, and the data: fields in
// a fixed order, strings and byte slices as a uvarint length and the bytes,
// integers as varints. Records of an unknown kind are skipped, and fields
// added at the end of a record are ignored by older readers, so either side
// can grow the format without breaking the other.

const binaryFormat = 1

// Record kinds.
const (
	kindDelivery = 'D'
	kindAck      = 'A'
)

// Flags of a delivery or ack record.
const (
	flagResumed = 1 << iota // Delivery.Resumed
	flagTimeout             // Ack.Timeout
	flagFields              // Delivery.Fields follows
)

// binaryMessage reports whether m has a binary form.
func binaryMessage(m Message) bool {
	switch m.(type) {
	case *Delivery, *Ack:
		return true
	}
	return false
}

// AppendBinary appends the binary frame for msgs to dst. Every message
// must be a *Delivery or an *Ack.
func AppendBinary(dst []byte, msgs ...Message) ([]byte, error) {
	dst = append(dst, binaryFormat)
	var rec []byte
	for _, m := range msgs {
		rec = rec[:0]
		var kind byte
		switch m := m.(type) {
		case *Delivery:
			kind = kindDelivery
			rec = appendDelivery(rec, m)
		case *Ack:
			kind = kindAck
			rec = appendAck(rec, m)
		default:
			return nil, fmt.Errorf("encode %s: no binary form", m.MessageType())
		}
		dst = append(dst, kind)
		dst = binary.AppendUvarint(dst, uint64(len(rec)))
		dst = append(dst, rec...)
	}
	return dst, nil
}

// Size is about how many bytes m takes in a binary frame: its body and
// headers, and a little for the rest. Callers bound frames and memory
// with it.
func Size(m Message) int {
	switch m := m.(type) {
	case *Delivery:
		return 128 + len(m.Body) + headerSize(m.Header) + len(m.ID) + len(m.Channel) + len(m.Method) +
			len(m.Path) + len(m.Query) + len(m.RemoteAddr) + len(m.Host)
	case *Ack:
		return 64 + len(m.Body) + headerSize(m.Header) + len(m.ID) + len(m.Error)
	}
	return 256
}

func headerSize(h http.Header) int {
	n := 0
	for k, vs := range h {
		n += len(k) + 2
		for _, v := range vs {
			n += len(v) + 2
		}
	}
	return n
}

func appendDelivery(b []byte, d *Delivery) []byte {
	var flags uint64
	if d.Resumed {
		flags |= flagResumed
	}
	if d.Fields != nil {
		flags |= flagFields
	}
	b = binary.AppendUvarint(b, flags)
	b = appendString(b, d.ID)
	b = binary.AppendVarint(b, d.Seq)
	b = appendString(b, d.Channel)
	b = binary.AppendVarint(b, d.ReceivedAt.UnixNano())
	b = appendString(b, d.Method)
	b = appendString(b, d.Path)
	b = appendString(b, d.Query)
	b = AppendHeader(b, d.Header)
	b = appendBytes(b, d.Body)
	b = appendString(b, d.RemoteAddr)
	b = appendString(b, d.Host)
	b = appendString(b, d.Proto)
	if f := d.Fields; f != nil {
		for _, s := range [...]string{f.ObjectType, f.Action, f.EntityID, f.ObjectID, f.EventID} {
			b = appendString(b, s)
		}
	}
	return b
}

func appendAck(b []byte, a *Ack) []byte {
	var flags uint64
	if a.Timeout {
		flags |= flagTimeout
	}
	b = binary.AppendUvarint(b, flags)
	b = appendString(b, a.ID)
	b = binary.AppendVarint(b, a.Seq)
	b = binary.AppendVarint(b, int64(a.Status))
	b = AppendHeader(b, a.Header)
	b = appendBytes(b, a.Body)
	b = appendString(b, a.Error)
	return binary.LittleEndian.AppendUint64(b, math.Float64bits(a.DurationMS))
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func appendBytes(b, p []byte) []byte {
	b = binary.AppendUvarint(b, uint64(len(p)))
	return append(b, p...)
}

// AppendHeader appends h as the binary form encodes headers: the number of
// keys, then each key with the number of its values and the values, every
// string as a uvarint length and its bytes. Unlike JSON it keeps bytes that
// are not UTF-8 (HTTP allows them in values), and it is cheaper to write
// and read, so stores use it too (see DecodeHeader).
func AppendHeader(b []byte, h http.Header) []byte {
	b = binary.AppendUvarint(b, uint64(len(h)))
	for k, vs := range h {
		b = appendString(b, k)
		b = binary.AppendUvarint(b, uint64(len(vs)))
		for _, v := range vs {
			b = appendString(b, v)
		}
	}
	return b
}

// DecodeBinary parses a binary frame into its messages, in order. Records
// of unknown kinds are skipped; anything malformed is an error wrapping
// ErrMalformed. Strings and bodies are copies: b may be reused.
func DecodeBinary(b []byte) ([]Message, error) {
	if len(b) == 0 || b[0] != binaryFormat {
		return nil, fmt.Errorf("%w: binary frame of an unknown format", ErrMalformed)
	}
	r := reader{b: b[1:]}
	if len(r.b) == 0 {
		return nil, fmt.Errorf("%w: binary frame without records", ErrMalformed)
	}
	var msgs []Message
	for len(r.b) > 0 {
		kind := r.byte()
		n := r.uvarint()
		if r.err != nil || n > uint64(len(r.b)) {
			return nil, fmt.Errorf("%w: truncated binary record", ErrMalformed)
		}
		rec := reader{b: r.b[:n]}
		r.b = r.b[n:]
		var m Message
		switch kind {
		case kindDelivery:
			m = rec.delivery()
		case kindAck:
			m = rec.ack()
		default:
			continue // a newer peer's record: not for us
		}
		if rec.err != nil {
			return nil, fmt.Errorf("%w: binary %s: %v", ErrMalformed, m.MessageType(), rec.err)
		}
		if err := validate(m); err != nil {
			return nil, fmt.Errorf("%w: binary %s: %v", ErrMalformed, m.MessageType(), err)
		}
		msgs = append(msgs, m)
	}
	return msgs, nil
}

var errShort = errors.New("truncated")

// DecodeHeader parses a header written by AppendHeader, which must be all
// of b. An empty header decodes as nil.
func DecodeHeader(b []byte) (http.Header, error) {
	r := reader{b: b}
	h := r.header()
	if r.err == nil && len(r.b) > 0 {
		r.err = errors.New("trailing bytes")
	}
	if r.err != nil {
		return nil, fmt.Errorf("%w: binary header: %v", ErrMalformed, r.err)
	}
	return h, nil
}

// reader takes fields off a record; the first failure sticks in err and
// every later read returns zero values.
type reader struct {
	b   []byte
	err error
}

func (r *reader) fail() {
	if r.err == nil {
		r.err = errShort
	}
	r.b = nil
}

func (r *reader) byte() byte {
	if len(r.b) < 1 {
		r.fail()
		return 0
	}
	c := r.b[0]
	r.b = r.b[1:]
	return c
}

func (r *reader) uvarint() uint64 {
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.fail()
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) varint() int64 {
	v, n := binary.Varint(r.b)
	if n <= 0 {
		r.fail()
		return 0
	}
	r.b = r.b[n:]
	return v
}

// raw returns the next length-prefixed field, aliasing the frame.
func (r *reader) raw() []byte {
	n := r.uvarint()
	if n > uint64(len(r.b)) {
		r.fail()
		return nil
	}
	p := r.b[:n:n]
	r.b = r.b[n:]
	return p
}

func (r *reader) string() string { return string(r.raw()) }

func (r *reader) bytes() []byte {
	p := r.raw()
	if len(p) == 0 {
		return nil
	}
	return append([]byte(nil), p...)
}

func (r *reader) header() http.Header {
	n := r.uvarint()
	if n == 0 || n > uint64(len(r.b)) { // each key takes at least a byte
		if n != 0 {
			r.fail()
		}
		return nil
	}
	h := make(http.Header, n)
	for i := uint64(0); i < n && r.err == nil; i++ {
		k := r.string()
		nv := r.uvarint()
		if nv > uint64(len(r.b)) {
			r.fail()
			return nil
		}
		vs := make([]string, nv)
		for j := range vs {
			vs[j] = r.string()
		}
		h[k] = vs
	}
	return h
}

func (r *reader) delivery() *Delivery {
	flags := r.uvarint()
	d := &Delivery{
		Resumed:    flags&flagResumed != 0,
		ID:         r.string(),
		Seq:        r.varint(),
		Channel:    r.string(),
		ReceivedAt: time.Unix(0, r.varint()).UTC(),
		Method:     r.string(),
		Path:       r.string(),
		Query:      r.string(),
		Header:     r.header(),
		Body:       r.bytes(),
		RemoteAddr: r.string(),
		Host:       r.string(),
		Proto:      r.string(),
	}
	if flags&flagFields != 0 {
		d.Fields = &Fields{
			ObjectType: r.string(),
			Action:     r.string(),
			EntityID:   r.string(),
			ObjectID:   r.string(),
			EventID:    r.string(),
		}
	}
	return d
}

func (r *reader) ack() *Ack {
	flags := r.uvarint()
	a := &Ack{
		Timeout: flags&flagTimeout != 0,
		ID:      r.string(),
		Seq:     r.varint(),
		Status:  int(r.varint()),
		Header:  r.header(),
		Body:    r.bytes(),
		Error:   r.string(),
	}
	if len(r.b) < 8 {
		r.fail()
		return a
	}
	a.DurationMS = math.Float64frombits(binary.LittleEndian.Uint64(r.b))
	r.b = r.b[8:]
	return a
}
