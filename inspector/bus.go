package inspector

import (
	"strings"
	"sync"
	"time"
)

// ConnState is the agent's relation to its relay.
type ConnState string

const (
	StateConnecting   ConnState = "connecting"
	StateConnected    ConnState = "connected"
	StateReconnecting ConnState = "reconnecting"
	StateOffline      ConnState = "offline" // stopped, or refused for good
)

// Conn describes the connection to the relay.
type Conn struct {
	State   ConnState
	Relay   string    // relay base URL
	URL     string    // ingress URL, once welcomed
	Target  string    // forward target
	RetryAt time.Time // when reconnecting: next try
	Err     string    // last error, when not connected
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
	EventConn     EventKind = iota + 1 // Conn changed
	EventReceived                      // a delivery was received (Delivery set)
	EventAttempt                       // an attempt finished (Delivery and Attempt set)
	EventStore                         // the store's health changed (Store set)
)

// Event is what subscribers to a Bus receive.
type Event struct {
	Kind     EventKind
	Conn     Conn
	Store    StoreHealth
	Delivery *Delivery // summary only: no header, body or history
	Attempt  *Attempt
}

// Bus fans events out to subscribers. Publishing never blocks: a subscriber
// that falls behind loses events (it can always reload from the store).
type Bus struct {
	mu    sync.Mutex
	subs  map[chan Event]struct{}
	conn  Conn
	store StoreHealth
}

// NewBus returns an empty bus.
func NewBus() *Bus { return &Bus{subs: map[chan Event]struct{}{}} }

// Subscribe returns a channel of events with room for buf of them, and a
// function that ends the subscription. A new subscriber first receives the
// current connection state, and the store's health while it is failing.
func (b *Bus) Subscribe(buf int) (<-chan Event, func()) {
	if buf < 1 {
		buf = 1
	}
	ch := make(chan Event, buf)
	b.mu.Lock()
	b.subs[ch] = struct{}{}
	if b.conn.State != "" {
		ch <- Event{Kind: EventConn, Conn: b.conn}
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
	case EventConn:
		b.conn = e.Conn
	case EventStore:
		b.store = e.Store
	}
	for ch := range b.subs {
		select {
		case ch <- e:
		default:
		}
	}
}

// Conn is the latest connection state published.
func (b *Bus) Conn() Conn {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.conn
}

// Store is the latest store health published.
func (b *Bus) Store() StoreHealth {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.store
}
