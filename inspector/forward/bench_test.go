package forward

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"testing"
)

// BenchmarkForward sends 430-byte POSTs (a Monite event's size) to a local
// app, through each forwarder, from one goroutine and from 32.
func BenchmarkForward(b *testing.B) {
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		io.WriteString(w, `{"arrived":1}`)
	}))
	defer ts.Close()
	body := bytes.Repeat([]byte("x"), 430)
	h := http.Header{"Content-Type": {"application/json"}, "X-Monite-Signature": {"t=1,v1=abc"}}
	for _, v := range []struct {
		name string
		newF newFunc
	}{{"pool", New}, {"transport", NewTransport}} {
		for _, par := range []int{1, 32} {
			b.Run(v.name+"/c="+map[int]string{1: "1", 32: "32"}[par], func(b *testing.B) {
				f, _ := v.newF(ts.URL+"/webhooks", 0)
				defer f.CloseIdle()
				r := Request{Method: "POST", Header: h, Body: body, RemoteAddr: "10.0.0.1", Host: "relay", Proto: "https"}
				send := func() {
					if a := f.Forward(b.Context(), r); a.Status != 200 {
						b.Errorf("%d %s", a.Status, a.Error)
					}
				}
				b.ReportAllocs()
				if par == 1 {
					for b.Loop() {
						send()
					}
					return
				}
				b.SetParallelism((par + runtime.GOMAXPROCS(0) - 1) / runtime.GOMAXPROCS(0))
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						send()
					}
				})
			})
		}
	}
}
