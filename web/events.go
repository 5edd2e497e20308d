package web

import (
	"encoding/json"
	"net/http"
	"time"

	"github.com/hooktap/hooktap/inspector/live"
	"github.com/hooktap/hooktap/inspector/store"
)

// heartbeat keeps idle event streams open through proxies and lets a
// vanished client be noticed.
const heartbeat = 15 * time.Second

// liveEvent is the data of one Server-Sent Event. Its event name is "conn",
// "delivery" (received), "attempt" (an attempt finished), "store" (the
// store stopped or resumed writing, or how many deliveries wait changed) or
// "app" (the app started or stopped listening on the forward target).
type liveEvent struct {
	Conn     *connJSON            `json:"conn,omitempty"`
	Store    *storeJSON           `json:"store,omitempty"`
	App      *appJSON             `json:"app,omitempty"`
	Delivery *summary             `json:"delivery,omitempty"`
	Attempt  *store.RecordAttempt `json:"attempt,omitempty"`
}

// handleEvents streams the bus as Server-Sent Events until the client goes
// or the server stops. Without a bus there is nothing live: 204 tells an
// EventSource not to reconnect.
func (s *Server) handleEvents(w http.ResponseWriter, r *http.Request) {
	if s.bus == nil {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	rc := http.NewResponseController(w)
	events, unsubscribe := s.bus.Subscribe(256)
	defer unsubscribe()

	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	w.Write([]byte("retry: 2000\n\n"))
	if rc.Flush() != nil {
		return
	}
	tick := time.NewTicker(heartbeat)
	defer tick.Stop()
	for {
		select {
		case <-r.Context().Done():
			return
		case <-tick.C:
			if _, err := w.Write([]byte(": ping\n\n")); err != nil || rc.Flush() != nil {
				return
			}
		case ev := <-events:
			name, data := encodeEvent(ev, s.tryIt)
			if name == "" {
				continue
			}
			rc.SetWriteDeadline(time.Now().Add(10 * time.Second))
			if _, err := w.Write([]byte("event: " + name + "\ndata: " + string(data) + "\n\n")); err != nil || rc.Flush() != nil {
				return
			}
			rc.SetWriteDeadline(time.Time{})
		}
	}
}

func encodeEvent(ev live.Event, tryIt func(string) (string, string)) (string, []byte) {
	var name string
	var le liveEvent
	switch ev.Kind {
	case live.EventRelay:
		name, le.Conn = "conn", connOf(ev.Relay, tryIt)
		if le.Conn == nil {
			return "", nil
		}
	case live.EventStore:
		name, le.Store = "store", storeOf(ev.Store)
	case live.EventApp:
		name, le.App = "app", appOf(ev.App)
		if le.App == nil {
			return "", nil
		}
	case live.EventReceived, live.EventAttempt:
		if ev.Delivery == nil {
			return "", nil
		}
		name = "delivery"
		sm := summarize(ev.Delivery)
		le.Delivery = &sm
		if ev.Kind == live.EventAttempt && ev.Attempt != nil {
			name = "attempt"
			a := store.NewRecordAttempt(ev.Attempt)
			// The stream carries summaries: GET the delivery for bodies.
			a.Response.Body, a.Response.BodyEncoding = nil, ""
			a.Request = nil
			le.Attempt = &a
		}
	default:
		return "", nil
	}
	b, err := json.Marshal(le) // JSON has no raw newlines: one data line
	if err != nil {
		return "", nil
	}
	return name, b
}
