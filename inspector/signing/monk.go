package signing

import "net/http"

// monk is Monk's scheme:
//
//	X-Monk-Signature: t=<unix>,v1=<hex>
//
// HMAC-SHA256(secret string, "{t}.{raw body}"). Signing also sets the
// descriptive headers Monk sends with every delivery; an empty Message.Event
// or Message.ID leaves its header alone.
var monk = hexScheme{name: "monk", header: "X-Monk-Signature", extra: monkHeaders}

func monkHeaders(h http.Header, m Message) {
	if m.Event != "" {
		h.Set("X-Monk-Event", m.Event)
	}
	if m.ID != "" {
		h.Set("X-Monk-Delivery-Id", m.ID)
	}
	h.Set("User-Agent", "Monk-Webhook/1.0")
	h.Set("Content-Type", "application/json")
}
