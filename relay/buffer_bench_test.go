package relay

import (
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/hooktap/hooktap/relay/wire"
)

// BenchmarkAppend is the cost of making one delivery durable, one at a time.
func BenchmarkAppend(b *testing.B) {
	buf, err := OpenBuffer(b.Context(), filepath.Join(b.TempDir(), "r.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer buf.Close()
	body := make([]byte, 400)
	for i := 0; i < b.N; i++ {
		d := &wire.Delivery{ID: newID(), Channel: "c", ReceivedAt: time.Now(), Method: "POST", Header: http.Header{"Content-Type": {"application/json"}}, Body: body}
		if err := buf.Append(b.Context(), d, nil); err != nil {
			b.Fatal(err)
		}
	}
}
