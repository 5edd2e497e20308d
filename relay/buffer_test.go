package relay

import (
	"net/http"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/hooktap/hooktap/relay/wire"
)

// Header bytes that are not UTF-8 come out of the buffer as they went in,
// and rows that older relays wrote as JSON still read.
func TestBufferKeepsHeaderBytes(t *testing.T) {
	buf, err := OpenBuffer(t.Context(), filepath.Join(t.TempDir(), "relay.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer buf.Close()
	h := http.Header{"X-Name": {"caf\xe9 \xff", "plain"}, "Content-Type": {"application/json"}}
	for _, hdr := range []http.Header{h, {}} {
		d := &wire.Delivery{ID: newID(), Channel: "c", ReceivedAt: time.Now(), Method: "POST", Header: hdr}
		if err := buf.Append(t.Context(), d, nil); err != nil {
			t.Fatal(err)
		}
	}
	// As relays before the binary form wrote it.
	if _, err := buf.db.W.Exec(`INSERT INTO deliveries(channel, seq, id, received_at, method, path, header)
		VALUES ('c', 3, 'old', ?, 'POST', '', '{"X-Old":["caf\u00e9","2"]}'), ('c', 4, 'null', ?, 'POST', '', 'null')`,
		time.Now().UnixMicro(), time.Now().UnixMicro()); err != nil {
		t.Fatal(err)
	}
	ds, _, err := buf.After(t.Context(), "c", 0, 10, 1<<20)
	if err != nil || len(ds) != 4 {
		t.Fatalf("After: %d deliveries, %v", len(ds), err)
	}
	for i, want := range []http.Header{h, {}, {"X-Old": {"café", "2"}}, {}} {
		if !reflect.DeepEqual(ds[i].Header, want) {
			t.Errorf("delivery %d: header %#v, want %#v", i+1, ds[i].Header, want)
		}
	}
}
