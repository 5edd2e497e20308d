package store

import (
	"fmt"
	"math/rand/v2"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/hooktap/hooktap/inspector/catalog"
)

// BenchmarkRecord is the agent's write path: a delivery and its attempt per
// write, many in flight, then the full-text index catching up.
func BenchmarkRecord(b *testing.B) {
	st, err := Open(b.Context(), filepath.Join(b.TempDir(), "b.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	events := catalog.All()
	var bodies [][]byte
	for i := 0; i < 256; i++ {
		body, _ := catalog.Payload(events[i%len(events)], catalog.Options{})
		bodies = append(bodies, body)
	}
	hdr := http.Header{"Content-Type": {"application/json"}, "User-Agent": {"Monite-Webhooks/1.0"},
		"Monite-Signature": {"t=1795383117,v1=f2aa260ea31feb8ae23dd3504a5677c91705b12e2865d1aae9a8da5354b1ecf1"}}
	now := time.Now()
	b.ResetTimer()
	inflight := make([]<-chan error, 0, 8192)
	for i := 0; i < b.N; i++ {
		d := &Delivery{ID: fmt.Sprintf("%016x", rand.Uint64()), ReceivedAt: now, Method: "POST", Header: hdr, Body: bodies[i%len(bodies)],
			ObjectType: "payable", Action: "payable.created", EntityID: fmt.Sprintf("ent_%d", i%20)}
		a := &Attempt{DeliveryID: d.ID, Kind: KindForward, Target: "http://127.0.0.1:3000/webhooks", StartedAt: now,
			Duration: time.Millisecond, Status: 200, Body: []byte(`{"ok":true}`), Header: http.Header{"Content-Type": {"application/json"}}}
		inflight = append(inflight, st.Record(d, a))
		if len(inflight) == cap(inflight) {
			for _, c := range inflight {
				if err := <-c; err != nil {
					b.Fatal(err)
				}
			}
			inflight = inflight[:0]
		}
	}
	for _, c := range inflight {
		<-c
	}
	if err := st.IndexNow(b.Context()); err != nil {
		b.Fatal(err)
	}
}
