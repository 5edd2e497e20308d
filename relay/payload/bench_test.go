package payload

import (
	"net/http"
	"testing"
)

// BenchmarkParseMonite parses a Monite event body as ingress does for every
// delivery.
func BenchmarkParseMonite(b *testing.B) {
	body := []byte(`{"id":"5e2c1f6a-8a3b-4c7e-9d2f-1a2b3c4d5e6f","action":"payable.created","api_version":"2024-01-31","entity_id":"ce0d6a2b-1b5c-4a8f-bb4e-9f1e2d3c4b5a","description":"payable_created","object":{"id":"7f3b2a1c-9d8e-4f6a-b5c4-3d2e1f0a9b8c","type":"payable"},"object_type":"payable","webhook_subscription_id":"0a1b2c3d-4e5f-6a7b-8c9d-0e1f2a3b4c5d","created_at":"2026-12-02T03:00:00Z"}`)
	h := http.Header{"Content-Type": {"application/json"}}
	b.ReportAllocs()
	for b.Loop() {
		Parse(h, body)
	}
}
