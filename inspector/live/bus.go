// Package live carries what happens in a running agent to the UIs that
// show it: the relay connection's status, the store's health, deliveries
// received and attempts made. Publishing never blocks.
package live

import (
	"strings"
	"sync"
	"time"

	"github.com/hooktap/hooktap/inspector/store"
)

// State is the agent's relation to its relay.
type State string

const (
	StateConnecting   State = "connecting"
	StateConnected    State = "connected"
	StateReconnecting State = "reconnecting"
	StateRefused      State = "refused" // for good: a wrong token, not a hooktap relay
	StateOffline      State = "offline" // stopped
)

// RelayStatus is a snapshot of the agent's connection to its relay. (The
// heartbeat's age and round-trip time, once measured, belong here too.)
type RelayStatus struct {
	State   State
	Relay   string    // relay base URL
	URL     string    // ingress URL, once welcomed
	Target  string    // forward target
	Routes  []string  // EVENTS=URL routes, taken before Target
	RetryAt time.Time // when reconnecting: next try
	Err     string    // last error, when not connected
	// The relay's last answer to a heartbeat (or the welcome), and the
	// heartbeat's round trip; zero before the first.
	Heartbeat time.Time
	RTT       time.Duration
	// Stalled: the last connection ended because the relay stopped
	// answering heartbeats (it froze, or the network went away).
	Stalled bool
	Reason  string // Err in a few words, for status lines: "connection refused"
}

// AppHealth is what the agent knows of the app it forwards to: whether
// something listens on the forward target, from a TCP dial every few
// seconds and from the outcome of real forwards. (The app's last answer
// and error rate, once counted, belong here too.)
type AppHealth struct {
	Target    string    // forward target URL
	Addr      string    // its host:port, as dialed
	Checked   bool      // false until the first check
	Listening bool      // something accepted a connection
	Err       string    // why not, when not listening: "connection refused", ...
	Since     time.Time // when Listening last changed (or the first check)
	// The app's answers: the last one, and over the last minute how many
	// forwards there were and how many got no 2xx (a provider retries those).
	LastStatus int // 0: no answer
	LastAt     time.Time
	Forwards   int
	Failures   int
}

// ErrorRate is the share of the last minute's forwards that got no 2xx.
func (h AppHealth) ErrorRate() float64 {
	if h.Forwards == 0 {
		return 0
	}
	return float64(h.Failures) / float64(h.Forwards)
}

// Down reports whether a check found the app unreachable.
func (h AppHealth) Down() bool { return h.Checked && !h.Listening }

// Problem says, when the app is down, what is wrong and what to do, in
// one line for people (the same words in every UI).
func (h AppHealth) Problem() string {
	if !h.Down() {
		return ""
	}
	return h.Short() + " — start your app, or point hooktap at it with --forward-to URL (make run FORWARD_TO=URL)"
}

// Brief is Problem with shorter advice, for lines too narrow for
// Problem: it names no flag, as a flag alone would not do for make run.
func (h AppHealth) Brief() string {
	if !h.Down() {
		return ""
	}
	return h.Short() + " — start your app, or change the forward target"
}

// Short is Problem without the advice, for narrow lines.
func (h AppHealth) Short() string {
	if !h.Down() {
		return ""
	}
	if h.Err == "" || h.Err == "connection refused" {
		return "nothing is listening on " + h.Addr
	}
	return "cannot reach " + h.Addr + ": " + h.Err
}

// StoreHealth says whether the agent can record deliveries. While its store
// cannot write (a full disk), the agent holds deliveries un-acked and
// retries.
type StoreHealth struct {
	Err     string    // why the store cannot write; "" while it can
	Since   time.Time // when it stopped writing
	Waiting int       // deliveries received and not yet recorded and acked
}

// Failing reports whether the store cannot write.
func (h StoreHealth) Failing() bool { return h.Err != "" }

// Cause is a short reason for people: "disk full", or the error.
func (h StoreHealth) Cause() string {
	if strings.Contains(h.Err, "disk is full") || strings.Contains(h.Err, "no space left") {
		return "disk full"
	}
	return h.Err
}

// EventKind says what an Event is about.
type EventKind int

const (
	EventRelay    EventKind = iota + 1 // the relay connection changed (Relay set)
	EventReceived                      // a delivery was received (Delivery set)
	EventAttempt                       // an attempt finished (Delivery and Attempt set)
	EventStore                         // the store's health changed (Store set)
	EventApp                           // the app's health changed (App set)
)

// Event is what subscribers to a Bus receive.
type Event struct {
	Kind     EventKind
	Relay    RelayStatus
	Store    StoreHealth
	App      AppHealth
	Delivery *store.Delivery // summary only: no header, body or history
	Attempt  *store.Attempt
}

// Bus fans events out to subscribers. Publishing never blocks: a subscriber
// that falls behind loses events (it can always reload from the store).
type Bus struct {
	mu    sync.Mutex
	subs  map[chan Event]struct{}
	relay RelayStatus
	store StoreHealth
	app   AppHealth
}

// NewBus returns an empty bus.
func NewBus() *Bus { return &Bus{subs: map[chan Event]struct{}{}} }

// Subscribe returns a channel of events with room for buf of them, and a
// function that ends the subscription. A new subscriber first receives the
// current connection state, the app's health once checked, and the
// store's health while it is failing.
func (b *Bus) Subscribe(buf int) (<-chan Event, func()) {
	if buf < 1 {
		buf = 1
	}
	ch := make(chan Event, buf)
	b.mu.Lock()
	b.subs[ch] = struct{}{}
	if b.relay.State != "" {
		ch <- Event{Kind: EventRelay, Relay: b.relay}
	}
	if b.app.Checked && len(ch) < cap(ch) {
		ch <- Event{Kind: EventApp, App: b.app}
	}
	if b.store.Failing() && len(ch) < cap(ch) {
		ch <- Event{Kind: EventStore, Store: b.store}
	}
	b.mu.Unlock()
	var once sync.Once
	return ch, func() {
		once.Do(func() {
			b.mu.Lock()
			delete(b.subs, ch)
			b.mu.Unlock()
		})
	}
}

// Publish sends e to every subscriber that has room.
func (b *Bus) Publish(e Event) {
	if b == nil {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	switch e.Kind {
	case EventRelay:
		b.relay = e.Relay
	case EventStore:
		b.store = e.Store
	case EventApp:
		b.app = e.App
	}
	for ch := range b.subs {
		select {
		case ch <- e:
		default:
		}
	}
}

// Relay is the latest relay status published.
func (b *Bus) Relay() RelayStatus {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.relay
}

// Store is the latest store health published.
func (b *Bus) Store() StoreHealth {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.store
}

// App is the latest app health published.
func (b *Bus) App() AppHealth {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.app
}
