package agent_test

import (
	"bytes"
	"io"
	"net/http"
	"sync"
	"testing"
)

// BenchmarkTunnel sends deliveries through an in-process relay and agent
// (recording to SQLite) to a loopback app, 32 at a time. It is here for
// profiling; `make bench` measures the real processes.
func BenchmarkTunnel(b *testing.B) {
	ap := newApp(b, nil)
	go func() {
		for range ap.hits {
		}
	}()
	tn := startTunnel(b, ap.URL, 0)
	body := bytes.Repeat([]byte(`{"action":"payable.created","object_type":"payable","entity_id":"e"}`), 6)
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	b.ResetTimer()
	var wg sync.WaitGroup
	jobs := make(chan struct{})
	for w := 0; w < 32; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range jobs {
				resp, err := client.Post(tn.ingress, "application/json", bytes.NewReader(body))
				if err != nil {
					b.Error(err)
					return
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
		}()
	}
	for i := 0; i < b.N; i++ {
		jobs <- struct{}{}
	}
	close(jobs)
	wg.Wait()
}
