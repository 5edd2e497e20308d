package wire

import (
	"bytes"
	"encoding/binary"
	"errors"
	"net/http"
	"reflect"
	"testing"
	"time"
)

var binaryMsgs = []Message{
	&Delivery{ID: "d1", Seq: 7, Channel: "dev", ReceivedAt: time.Unix(1700000000, 5000).UTC(), Method: "POST",
		Path: "/x%2Fy", Query: "a=1", Header: http.Header{"X-A": {"1", "2"}, "Content-Type": {"application/json"}},
		Body: []byte{0, 1, 0xff, '{'}, RemoteAddr: "10.0.0.1", Host: "relay.example", Proto: "https", Resumed: true,
		Fields: &Fields{ObjectType: "payable", Action: "payable.created", EntityID: "e", ObjectID: "o", EventID: "ev"}},
	&Delivery{ID: "d2", Seq: 8, Channel: "dev", ReceivedAt: time.Unix(1700000001, 0).UTC(), Method: "GET"},
	&Ack{ID: "d1", Seq: 7, Status: 201, Header: http.Header{"X-B": {"b"}}, Body: []byte("ok"), DurationMS: 1.5},
	&Ack{ID: "d2", Seq: 8, Error: "connection refused", Timeout: true},
}

func TestBinaryRoundTrip(t *testing.T) {
	// One message per frame, and all of them in one frame.
	for _, m := range binaryMsgs {
		b, err := AppendBinary(nil, m)
		if err != nil {
			t.Fatal(err)
		}
		got, err := DecodeBinary(b)
		if err != nil {
			t.Fatalf("decode %T: %v", m, err)
		}
		if len(got) != 1 || !reflect.DeepEqual(got[0], m) {
			t.Errorf("round trip of %T:\n got %#v\nwant %#v", m, got, m)
		}
	}
	b, err := AppendBinary(nil, binaryMsgs...)
	if err != nil {
		t.Fatal(err)
	}
	got, err := DecodeBinary(b)
	if err != nil || !reflect.DeepEqual(got, binaryMsgs) {
		t.Fatalf("batch round trip: %v\n got %#v", err, got)
	}
}

func TestBinaryDecodeCopies(t *testing.T) {
	b, _ := AppendBinary(nil, binaryMsgs[0])
	got, err := DecodeBinary(b)
	if err != nil {
		t.Fatal(err)
	}
	for i := range b {
		b[i] = 'z' // the read buffer is reused for the next frame
	}
	if !reflect.DeepEqual(got[0], binaryMsgs[0]) {
		t.Fatalf("decoded message changed with its frame: %#v", got[0])
	}
}

func TestBinaryOnlyHotMessages(t *testing.T) {
	if _, err := AppendBinary(nil, &Hello{Channel: "dev"}); err == nil {
		t.Fatal("a hello encoded as binary")
	}
}

// A newer peer's records are skipped, and fields it adds at the end of a
// known record are ignored.
func TestBinaryForwardCompatible(t *testing.T) {
	ack, _ := AppendBinary(nil, binaryMsgs[2])
	frame := []byte{binaryFormat, 'Z', 3, 1, 2, 3}
	// The ack's record with two more bytes of data at its end.
	rec := ack[1:]
	n, w := binary.Uvarint(rec[1:])
	grown := append([]byte{rec[0]}, binary.AppendUvarint(nil, n+2)...)
	grown = append(grown, rec[1+w:]...)
	grown = append(grown, 9, 9)
	frame = append(frame, grown...)
	got, err := DecodeBinary(frame)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || !reflect.DeepEqual(got[0], binaryMsgs[2]) {
		t.Fatalf("got %#v", got)
	}
}

func TestBinaryMalformed(t *testing.T) {
	full, _ := AppendBinary(nil, binaryMsgs...)
	bad := [][]byte{
		nil,
		{},
		{2},                          // unknown format
		{binaryFormat, kindAck},      // no length
		{binaryFormat, kindAck, 200}, // length past the end
		{binaryFormat, kindAck, 1, 0},
		{binaryFormat, kindDelivery, 2, 0, 0}, // no id, no method
		{binaryFormat, kindDelivery, 4, 0, 1, 'x', 0xff},        // truncated varint
		{binaryFormat, kindAck, 6, 0, 1, 'x', 0, 0x80, 0x10},    // status out of range
		{binaryFormat, kindDelivery, 5, 0, 0x80, 0x80, 0x80, 0}, // huge string length
	}
	for i := 1; i < len(full)-1; i += 7 {
		bad = append(bad, full[:i])
	}
	for _, in := range bad {
		if m, err := DecodeBinary(in); err == nil || !errors.Is(err, ErrMalformed) {
			// A cut that falls exactly between records decodes the ones
			// before it; that is not malformed.
			if err == nil && len(in) > 1 && bytes.HasPrefix(full, in) && len(m) <= len(binaryMsgs) &&
				reflect.DeepEqual(m, binaryMsgs[:len(m)]) {
				continue
			}
			t.Errorf("DecodeBinary(%v) = %#v, %v; want ErrMalformed", in, m, err)
		}
	}
}

func FuzzDecodeBinary(f *testing.F) {
	full, _ := AppendBinary(nil, binaryMsgs...)
	f.Add(full)
	for _, m := range binaryMsgs {
		b, _ := AppendBinary(nil, m)
		f.Add(b)
	}
	f.Add([]byte{binaryFormat, 'Z', 1, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		msgs, err := DecodeBinary(b)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error not wrapping ErrMalformed: %v", err)
			}
			return
		}
		if len(msgs) == 0 {
			return // only records of kinds this build does not know
		}
		// Whatever decodes encodes and decodes to the same messages.
		out, err := AppendBinary(nil, msgs...)
		if err != nil {
			t.Fatalf("re-encode %#v: %v", msgs, err)
		}
		again, err := DecodeBinary(out)
		if err != nil {
			t.Fatalf("decode of re-encoded: %v", err)
		}
		if !reflect.DeepEqual(normal(again), normal(msgs)) {
			t.Fatalf("changed in a round trip:\n%#v\n%#v", msgs, again)
		}
	})
}

// normal drops what a round trip may legitimately change: the location of
// times outside the encodable range.
func normal(msgs []Message) []Message {
	for _, m := range msgs {
		if d, ok := m.(*Delivery); ok {
			d.ReceivedAt = d.ReceivedAt.UTC()
		}
	}
	return msgs
}

// Headers keep their bytes, UTF-8 or not, and a damaged encoding is an
// error rather than a shorter header.
func TestHeaderRoundTrip(t *testing.T) {
	h := http.Header{"X-Name": {"caf\xe9 \xff", ""}, "Content-Type": {"application/json"}, "X-\xfe": {"v"}}
	b := AppendHeader([]byte("prefix"), h)
	got, err := DecodeHeader(b[len("prefix"):])
	if err != nil || !reflect.DeepEqual(got, h) {
		t.Fatalf("round trip: %v\n got %#v\nwant %#v", err, got, h)
	}
	if got, err := DecodeHeader(AppendHeader(nil, nil)); err != nil || got != nil {
		t.Fatalf("empty header: %#v, %v", got, err)
	}
	enc := AppendHeader(nil, h)
	for _, bad := range [][]byte{enc[:len(enc)-1], append(enc, 0), nil} {
		if _, err := DecodeHeader(bad); !errors.Is(err, ErrMalformed) {
			t.Errorf("DecodeHeader(%q): %v, want ErrMalformed", bad, err)
		}
	}
}
