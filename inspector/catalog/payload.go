package catalog

import (
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"time"
)

// DefaultAPIVersion is the x-monite-version payloads are shaped for when
// Options.APIVersion is empty.
const DefaultAPIVersion = "2024-05-25"

// Legacy is the pseudo API version of the oldest docs (seed 002), which
// predate x-monite-version.
const Legacy = "legacy"

// ErrUnknownVersion is returned by Payload for an API version it does not know.
var ErrUnknownVersion = errors.New("unknown api version")

// apiVersions lists the known versions, newest first.
var apiVersions = []string{"2024-05-25", "2024-01-31", "2023-09-01", "2023-06-04", Legacy}

// APIVersions returns the API versions Payload knows, newest first.
func APIVersions() []string { return slices.Clone(apiVersions) }

// Options tune a payload. Empty fields get defaults: the default API version,
// random UUIDs, the current time.
type Options struct {
	APIVersion     string
	EntityID       string
	ObjectID       string
	EventID        string
	SubscriptionID string
	Now            time.Time
	// Rand makes the payload deterministic; nil means random. A *rand.Rand
	// is not safe for concurrent use, so don't share one across goroutines.
	Rand *rand.Rand
}

// The payload shapes, fields in the order Monite sends them.
type (
	// payload2024 is API 2024-01-31 and later.
	payload2024 struct {
		ID                    string `json:"id"`
		CreatedAt             string `json:"created_at"`
		Action                string `json:"action"`
		APIVersion            string `json:"api_version"`
		Description           string `json:"description"`
		EntityID              string `json:"entity_id"`
		Object                object `json:"object"`
		ObjectType            string `json:"object_type"`
		WebhookSubscriptionID string `json:"webhook_subscription_id"`
	}
	// payload2023 is API 2023-09-01.
	payload2023 struct {
		ID                    string `json:"id"`
		CreatedAt             string `json:"created_at"`
		Action                string `json:"action"`
		APIVersion            string `json:"api_version"`
		EntityID              string `json:"entity_id"`
		Name                  string `json:"name"`
		Object                object `json:"object"`
		ObjectID              string `json:"object_id"`
		ObjectType            string `json:"object_type"`
		Significance          string `json:"significance"`
		WebhookSubscriptionID string `json:"webhook_subscription_id"`
	}
	// payloadSettings is API 2023-06-04, the /webhook_settings era (seeds 000, 001).
	payloadSettings struct {
		ObjectID   string `json:"object_id"`
		EntityID   string `json:"entity_id"`
		ObjectType string `json:"object_type"`
		Action     string `json:"action"`
		Name       string `json:"name"`
	}
	// payloadLegacy is the oldest docs' shape (seed 002): no entity_id, and
	// action is just create, update or delete.
	payloadLegacy struct {
		ObjectID   string `json:"object_id"`
		ObjectType string `json:"object_type"`
		Action     string `json:"action"`
		Name       string `json:"name"`
	}
)

// Payload returns a realistic, compact JSON body for e in the shape of
// o.APIVersion. The event need not be in the catalog.
func Payload(e Event, o Options) ([]byte, error) {
	if e.ObjectType == "" || e.Name == "" {
		return nil, fmt.Errorf("payload: event %q needs an object type and a name", e.Action())
	}
	if e.Flavor == FlavorMonk {
		return monkBody(e, o)
	}
	version := o.APIVersion
	if version == "" {
		version = DefaultAPIVersion
	}
	if !slices.Contains(apiVersions, version) {
		return nil, fmt.Errorf("payload: %w %q (known: %s)", ErrUnknownVersion, version, strings.Join(apiVersions, ", "))
	}
	src := source{o.Rand}
	// IDs are drawn in a fixed order, whatever the version, so one seed gives
	// the same IDs in every shape.
	fill := func(s *string) {
		if *s == "" {
			*s = src.uuid()
		}
	}
	fill(&o.EventID)
	fill(&o.EntityID)
	fill(&o.ObjectID)
	fill(&o.SubscriptionID)
	if o.Now.IsZero() {
		o.Now = time.Now()
	}
	createdAt := o.Now.UTC().Format("2006-01-02T15:04:05.000000Z07:00")
	obj := append(object{{"id", o.ObjectID}}, fields(e, src)...)

	var v any
	switch version {
	case Legacy:
		// Seed 002 shows "My webhook" as the name: the webhook's, not the event's.
		v = payloadLegacy{o.ObjectID, e.ObjectType, legacyAction(e.Name), "My webhook"}
	case "2023-06-04":
		v = payloadSettings{o.ObjectID, o.EntityID, e.ObjectType, e.Action(), describe(e)}
	case "2023-09-01":
		// significance is not documented publicly; "high" is our guess.
		v = payload2023{o.EventID, createdAt, e.Action(), version, o.EntityID, describe(e), obj,
			o.ObjectID, e.ObjectType, "high", o.SubscriptionID}
	default:
		v = payload2024{o.EventID, createdAt, e.Action(), version, describe(e), o.EntityID, obj,
			e.ObjectType, o.SubscriptionID}
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("payload: %w", err)
	}
	return b, nil
}

// legacyAction maps an event name onto the oldest docs' create, update or
// delete.
func legacyAction(name string) string {
	switch {
	case strings.HasPrefix(name, "create"):
		return "create"
	case strings.HasPrefix(name, "delete"):
		return "delete"
	}
	return "update"
}

// describe phrases e the way the seeds' name field does:
// "counterpart has been created".
func describe(e Event) string {
	words := strings.FieldsFunc(e.Name, func(r rune) bool { return r == '_' || r == '.' })
	for i, w := range words {
		switch w {
		case "create", "update", "delete":
			words[i] = w + "d"
		case "make":
			words[i] = "made"
		}
	}
	phrase := strings.Join(words, " ")
	if first := words[0]; strings.HasSuffix(first, "ed") || first == "made" || first == "paid" {
		return e.ObjectType + " has been " + phrase
	}
	return e.ObjectType + " " + phrase
}

// monkBody is Payload for Monk's events: one shape, whatever the version.
func monkBody(e Event, o Options) ([]byte, error) {
	src := source{o.Rand}
	if o.EntityID == "" {
		o.EntityID = src.uuid()
	}
	if o.ObjectID == "" {
		o.ObjectID = src.uuid()
	}
	if o.Now.IsZero() {
		o.Now = time.Now()
	}
	b, err := json.Marshal(monkPayload(e, o, src))
	if err != nil {
		return nil, fmt.Errorf("payload: %w", err)
	}
	return b, nil
}
