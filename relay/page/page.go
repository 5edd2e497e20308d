// Package page serves a relay channel's live page: the deliveries that
// reached the channel lately and the agents connected to it, for teammates
// who do not run the agent. The relay implements Source and guards access.
package page

import (
	"embed"
	"encoding/json"
	"html/template"
	"io/fs"
	"net/http"
	"slices"
	"strings"
	"time"
)

// Item is one delivery as the channel page shows it.
type Item struct {
	ID         string    `json:"id"`
	Time       time.Time `json:"time"`
	Method     string    `json:"method"`
	Path       string    `json:"path"`   // the part after /h/{channel}, without the query
	Action     string    `json:"action"` // the event, e.g. payable.created; "" when unknown
	Status     int       `json:"status"` // what the sender was answered
	DurationMS float64   `json:"duration_ms"`
}

// Agent is one agent connected to the channel.
type Agent struct {
	ID          string   `json:"id"`
	Events      []string `json:"events"`                 // its event filter; empty: all
	ObjectTypes []string `json:"object_types,omitempty"` // and its object types
	EntityIDs   []string `json:"entity_ids,omitempty"`   // and its entities
}

// Source is what the page shows; the relay implements it.
type Source interface {
	// Recent returns up to n of the channel's latest deliveries, oldest
	// first.
	Recent(channel string, n int) []Item
	// Agents lists the agents connected to the channel.
	Agents(channel string) []Agent
	// Subscribe streams the channel's deliveries as they are answered until
	// cancel is called. The channel is closed when the source shuts down; a
	// subscriber that falls behind misses items rather than slowing the
	// source.
	Subscribe(channel string) (items <-chan Item, cancel func())
}

// Timing of the live stream.
var (
	agentsEvery = 2 * time.Second  // how often the agent list is checked
	pingEvery   = 15 * time.Second // comment lines that keep proxies from timing out
)

// RecentLen is how many deliveries the page starts with.
const RecentLen = 100

//go:embed static
var static embed.FS

var index = template.Must(template.ParseFS(static, "static/index.html"))

// SetHeaders sets the headers every answer under /c/ carries, refusals
// included: no caching, and a policy that runs the page's own script and
// style only.
func SetHeaders(h http.Header) {
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
}

// Handler serves the page of channel c at /c/{c}, its snapshot at
// /c/{c}/feed.json and its live stream (server-sent events) at
// /c/{c}/events. Access control is the caller's: wrap the handler.
func Handler(src Source) http.Handler {
	assets, _ := fs.Sub(static, "static")
	mux := http.NewServeMux()
	mux.HandleFunc("GET /c/{channel}", func(w http.ResponseWriter, r *http.Request) {
		ch := r.PathValue("channel")
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		index.Execute(w, map[string]string{"Channel": ch, "Base": "/c/" + ch})
	})
	mux.HandleFunc("GET /c/{channel}/feed.json", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(snapshotOf(src, r.PathValue("channel")))
	})
	mux.HandleFunc("GET /c/{channel}/events", func(w http.ResponseWriter, r *http.Request) {
		stream(w, r, src, r.PathValue("channel"))
	})
	mux.HandleFunc("GET /c/{channel}/{asset}", func(w http.ResponseWriter, r *http.Request) {
		name := r.PathValue("asset")
		if name != "app.js" && name != "app.css" {
			http.NotFound(w, r)
			return
		}
		http.ServeFileFS(w, r, assets, name)
	})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		SetHeaders(w.Header())
		mux.ServeHTTP(w, r)
	})
}

// Snapshot is the page's state at one moment.
type Snapshot struct {
	Channel string  `json:"channel"`
	Items   []Item  `json:"items"`
	Agents  []Agent `json:"agents"`
}

func snapshotOf(src Source, ch string) Snapshot {
	s := Snapshot{Channel: ch, Items: src.Recent(ch, RecentLen), Agents: sortedAgents(src.Agents(ch))}
	if s.Items == nil {
		s.Items = []Item{}
	}
	return s
}

func sortedAgents(as []Agent) []Agent {
	if as == nil {
		return []Agent{}
	}
	slices.SortFunc(as, func(a, b Agent) int { return strings.Compare(a.ID, b.ID) })
	return as
}

// stream sends a "snapshot" event, then a "delivery" event per delivery and
// an "agents" event whenever the connected agents change.
func stream(w http.ResponseWriter, r *http.Request, src Source, ch string) {
	rc := http.NewResponseController(w)
	items, cancel := src.Subscribe(ch) // before the snapshot: nothing falls between
	defer cancel()
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	snap := snapshotOf(src, ch)
	if !send(w, rc, "snapshot", snap) {
		return
	}
	agents, _ := json.Marshal(snap.Agents)
	tick := time.NewTicker(agentsEvery)
	defer tick.Stop()
	ping := time.NewTicker(pingEvery)
	defer ping.Stop()
	for {
		select {
		case <-r.Context().Done():
			return
		case it, ok := <-items:
			if !ok {
				return
			}
			if !send(w, rc, "delivery", it) {
				return
			}
		case <-tick.C:
			now, _ := json.Marshal(sortedAgents(src.Agents(ch)))
			if string(now) != string(agents) {
				agents = now
				if !send(w, rc, "agents", json.RawMessage(now)) {
					return
				}
			}
		case <-ping.C:
			if _, err := w.Write([]byte(": ping\n\n")); err != nil || rc.Flush() != nil {
				return
			}
		}
	}
}

func send(w http.ResponseWriter, rc *http.ResponseController, event string, v any) bool {
	b, err := json.Marshal(v)
	if err != nil {
		return false
	}
	// JSON has no raw newlines, so one data line holds it.
	if _, err := w.Write([]byte("event: " + event + "\ndata: " + string(b) + "\n\n")); err != nil {
		return false
	}
	return rc.Flush() == nil
}
