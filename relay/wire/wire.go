// Package wire is the protocol spoken between a hooktap relay and its agents
// over WebSocket: one JSON object per text frame, each with a protocol
// version and a type; once both sides agree in the handshake, deliveries
// and acks travel in binary frames instead (binary.go). Decoders keep messages of unknown types instead of
// failing, so either side can grow new messages without breaking the other.
package wire

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"time"

	"github.com/hooktap/hooktap/relay/payload"
)

// Version is the protocol version this build speaks.
const Version = 1

// Message types.
const (
	TypeHello    = "hello"    // agent -> relay, first message: who and what to receive
	TypeWelcome  = "welcome"  // relay -> agent: accepted, here is the ingress URL
	TypeDelivery = "delivery" // relay -> agent: one webhook request
	TypeAck      = "ack"      // agent -> relay: delivery stored and forwarded, with the app's answer
	TypeError    = "error"    // either way: a refusal; the sender closes the connection after it
)

// Error codes carried by Error messages.
const (
	CodeUnauthorized   = "unauthorized"
	CodeUnknownChannel = "unknown_channel"
	CodeBadRequest     = "bad_request"
	CodeVersion        = "unsupported_version"
	CodeReplaced       = "replaced"
	CodeAgentTaken     = "agent_taken" // the agent id is bound to another key
	CodeUnavailable    = "unavailable" // the relay cannot serve the agent now: retry later
	CodeShutdown       = "shutdown"
)

// Message is any protocol message.
type Message interface {
	// MessageType is the value of the envelope's "type" field.
	MessageType() string
}

// Hello opens a session. AgentID is stable across restarts of one agent store,
// so the relay can resume from the agent's last acknowledged position.
type Hello struct {
	Channel string `json:"channel"`
	Token   string `json:"token,omitempty"`
	AgentID string `json:"agent_id"`
	// AgentKey is a secret only the agent's store holds: the relay binds
	// AgentID to it on first use, so that knowing an id is not enough to
	// resume as that agent.
	AgentKey string `json:"agent_key,omitempty"`
	// Instance is new for every run of an agent: two runs with the same
	// id and key at once are two copies of one store.
	Instance string   `json:"instance,omitempty"`
	Events   []string `json:"events,omitempty"` // action globs; empty means all
	// Object types and entity ids to receive (exact); empty means all.
	ObjectTypes []string `json:"object_types,omitempty"`
	EntityIDs   []string `json:"entity_ids,omitempty"`
	Agent       string   `json:"agent,omitempty"` // software and version, informational
	// Binary says the agent reads and writes deliveries and acks in binary
	// frames (binary.go); the relay agrees in Welcome.Binary.
	Binary bool `json:"binary,omitempty"`
}

// Welcome accepts a session.
type Welcome struct {
	Channel string `json:"channel"`
	URL     string `json:"url"` // ingress URL for the channel
	AgentID string `json:"agent_id"`
	Relay   string `json:"relay,omitempty"` // software and version, informational
	// Binary: from here on deliveries and acks travel in binary frames.
	Binary bool `json:"binary,omitempty"`
	// MaxFrame is the largest frame either side may send from here on
	// (see FrameLimit); 0 means MaxFrameSize.
	MaxFrame int64 `json:"max_frame,omitempty"`
	// AnswerWithin is how long a sender waits for the app's answer, in
	// milliseconds (the relay's --response-timeout): an agent gives the app
	// no longer, so that a sender hears "the app timed out" (504) rather
	// than the relay's 202. 0: not said (an older relay).
	AnswerWithin int64 `json:"answer_within_ms,omitempty"`
}

// Delivery is one webhook request as the relay received it. Path is the part
// after /h/{channel}, escaped as it came; Body is the exact bytes.
type Delivery struct {
	ID         string      `json:"id"`
	Seq        int64       `json:"seq"`
	Channel    string      `json:"channel"`
	ReceivedAt time.Time   `json:"received_at"`
	Method     string      `json:"method"`
	Path       string      `json:"path"`
	Query      string      `json:"query,omitempty"`
	Header     http.Header `json:"header,omitempty"`
	Body       []byte      `json:"body,omitempty"`
	RemoteAddr string      `json:"remote_addr,omitempty"`
	Host       string      `json:"host,omitempty"`
	Proto      string      `json:"proto,omitempty"` // "http" or "https", as the sender used
	// Resumed marks a delivery sent from the relay's buffer rather than live:
	// the agent may have seen it before and should check its store.
	Resumed bool `json:"resumed,omitempty"`
	// Fields are what the relay read from the body and headers, so that
	// the agent need not parse them again; nil when the relay did not say.
	Fields *Fields `json:"fields,omitempty"`
}

// Fields are what a delivery is about (see package payload).
type Fields = payload.Fields

// Ack reports that the agent stored a delivery durably and what the local app
// answered. Status 0 with Error set means the app could not be reached.
type Ack struct {
	ID         string      `json:"id"`
	Seq        int64       `json:"seq"`
	Status     int         `json:"status,omitempty"`
	Header     http.Header `json:"header,omitempty"`
	Body       []byte      `json:"body,omitempty"`
	Error      string      `json:"error,omitempty"`
	Timeout    bool        `json:"timeout,omitempty"`
	DurationMS float64     `json:"duration_ms"`
}

// Error refuses something; Code is one of the Code constants.
type Error struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

// Unknown is a message of a type this build does not know. It is kept whole
// so that it can be logged or passed on.
type Unknown struct {
	Type string          `json:"-"`
	Data json.RawMessage `json:"-"`
}

func (*Hello) MessageType() string    { return TypeHello }
func (*Welcome) MessageType() string  { return TypeWelcome }
func (*Delivery) MessageType() string { return TypeDelivery }
func (*Ack) MessageType() string      { return TypeAck }
func (*Error) MessageType() string    { return TypeError }
func (u *Unknown) MessageType() string {
	return u.Type
}

type envelope struct {
	V    int             `json:"v"`
	Type string          `json:"type"`
	Data json.RawMessage `json:"data,omitempty"`
}

// ErrMalformed wraps every decoding failure.
var ErrMalformed = errors.New("malformed message")

// Encode marshals m with its envelope.
func Encode(m Message) ([]byte, error) {
	var data []byte
	var err error
	if u, ok := m.(*Unknown); ok {
		data = u.Data
	} else if data, err = json.Marshal(m); err != nil {
		return nil, fmt.Errorf("encode %s: %w", m.MessageType(), err)
	}
	return json.Marshal(envelope{V: Version, Type: m.MessageType(), Data: data})
}

// Decode parses one frame. Messages of unknown type come back as *Unknown;
// anything that is not a well-formed envelope, or a known type whose data
// does not fit, is an error wrapping ErrMalformed.
func Decode(b []byte) (Message, error) {
	var env envelope
	if err := json.Unmarshal(b, &env); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if env.V < 1 {
		return nil, fmt.Errorf("%w: missing protocol version", ErrMalformed)
	}
	if env.Type == "" {
		return nil, fmt.Errorf("%w: missing type", ErrMalformed)
	}
	var m Message
	switch env.Type {
	case TypeHello:
		m = new(Hello)
	case TypeWelcome:
		m = new(Welcome)
	case TypeDelivery:
		m = new(Delivery)
	case TypeAck:
		m = new(Ack)
	case TypeError:
		m = new(Error)
	default:
		return &Unknown{Type: env.Type, Data: env.Data}, nil
	}
	if len(env.Data) == 0 || string(env.Data) == "null" {
		return nil, fmt.Errorf("%w: %s without data", ErrMalformed, env.Type)
	}
	if err := json.Unmarshal(env.Data, m); err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrMalformed, env.Type, err)
	}
	if err := validate(m); err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrMalformed, env.Type, err)
	}
	return m, nil
}

// validate checks the fields a receiver relies on.
func validate(m Message) error {
	switch m := m.(type) {
	case *Hello:
		if m.Channel == "" {
			return errors.New("no channel")
		}
	case *Delivery:
		if m.ID == "" || m.Method == "" {
			return errors.New("no id or method")
		}
	case *Ack:
		if m.ID == "" {
			return errors.New("no id")
		}
		if m.Status != 0 && (m.Status < 100 || m.Status > 999) {
			return fmt.Errorf("status %d out of range", m.Status)
		}
		if d := m.DurationMS; math.IsNaN(d) || math.IsInf(d, 0) || d < 0 {
			return fmt.Errorf("duration %v out of range", d)
		}
	}
	return nil
}
