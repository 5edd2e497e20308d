package provider

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/hooktap/hooktap/inspector/catalog"
	"github.com/hooktap/hooktap/inspector/jsonedit"
)

// EmitRequest is the body of POST /v1/_emulator/events, hooktap's own
// extension: make the emulator emit an event as if it happened in Monite.
type EmitRequest struct {
	Action   string                     `json:"action"`
	EntityID string                     `json:"entity_id,omitempty"`
	ObjectID string                     `json:"object_id,omitempty"`
	Set      map[string]json.RawMessage `json:"set,omitempty"` // path -> JSON value, as trigger --set
}

// Emitted is what Emit made: the event and one delivery per matching
// subscription.
type Emitted struct {
	Event      json.RawMessage `json:"event"`
	Deliveries []EmittedTo     `json:"deliveries"`
}

// EmittedTo is one delivery of an emitted event.
type EmittedTo struct {
	ID             string `json:"id"`
	SubscriptionID string `json:"webhook_subscription_id"`
	URL            string `json:"url"`
}

// InputError is an EmitRequest the emulator refuses; Field names the part.
type InputError struct {
	Field []any
	Msg   string
}

func (e *InputError) Error() string { return e.Msg }

// maxSets bounds the edits one event may ask for.
const maxSets = 64

// Emit records the event and a pending delivery to every enabled
// subscription whose object type and event types match, each with the body
// shaped for that subscription's API version and carrying its id. The
// deliverer (Run) sends them.
func (p *Provider) Emit(ctx context.Context, req EmitRequest) (*Emitted, error) {
	ev, err := catalog.Lookup(req.Action)
	if err != nil {
		return nil, &InputError{loc("body", "action"), err.Error()}
	}
	if (ev.Flavor == catalog.FlavorMonk) != p.monk() {
		other := map[bool]string{true: "Monk", false: "Monite"}[ev.Flavor == catalog.FlavorMonk]
		return nil, &InputError{loc("body", "action"), fmt.Sprintf("%s is one of %s's events; this emulator plays %s (hooktap provider --flavor %s)",
			ev.Action(), other, map[bool]string{true: "Monk", false: "Monite"}[p.monk()], strings.ToLower(other))}
	}
	if len(req.Set) > maxSets {
		return nil, &InputError{loc("body", "set"), fmt.Sprintf("at most %d fields to set", maxSets)}
	}
	for _, s := range []*string{&req.EntityID, &req.ObjectID} {
		if len(*s) > 256 {
			return nil, &InputError{loc("body"), "ids must be at most 256 characters"}
		}
		if *s == "" {
			*s = uuid.NewString()
		}
	}
	eventID := uuid.New()
	now := p.cfg.Now()
	// One seed per event: every subscription's body describes the same object.
	seed := binary.LittleEndian.Uint64(eventID[:8])
	payload := func(version, subID string) ([]byte, error) {
		o := catalog.Options{APIVersion: version, EntityID: req.EntityID, ObjectID: req.ObjectID, EventID: eventID.String(),
			SubscriptionID: subID, Now: now, Rand: rand.New(rand.NewPCG(seed, seed>>1))}
		body, err := catalog.Payload(ev, o)
		if err != nil {
			return nil, err
		}
		return applySets(body, req.Set)
	}
	resource, err := p.eventResource(payload, eventID.String(), ev, now)
	if err != nil {
		return nil, err
	}
	subs, err := p.matching(ctx, ev)
	if err != nil {
		return nil, err
	}
	out := &Emitted{Event: resource, Deliveries: []EmittedTo{}}
	tx, err := p.db.W.BeginTx(ctx, nil)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `INSERT INTO events(id, action, object_type, entity_id, created_at, resource) VALUES (?,?,?,?,?,?)`,
		eventID.String(), ev.Action(), ev.ObjectType, req.EntityID, now.UnixMicro(), string(resource)); err != nil {
		return nil, err
	}
	for _, s := range subs {
		body, err := payload(s.apiVersion, s.ID)
		if err != nil {
			return nil, err
		}
		d := EmittedTo{ID: uuid.NewString(), SubscriptionID: s.ID, URL: s.URL}
		if _, err := tx.ExecContext(ctx, `INSERT INTO deliveries(id, event_id, subscription_id, url, scheme, body, action, object_type,
			entity_id, created_at, updated_at, state, next_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,'pending',?)`,
			d.ID, eventID.String(), s.ID, s.URL, p.scheme(), body, ev.Action(), ev.ObjectType, req.EntityID,
			now.UnixMicro(), now.UnixMicro(), now.UnixMicro()); err != nil {
			return nil, err
		}
		out.Deliveries = append(out.Deliveries, d)
	}
	if err := tx.Commit(); err != nil {
		return nil, err
	}
	p.log.Info("event emitted", "event_id", eventID.String(), "action", ev.Action(), "deliveries", len(out.Deliveries))
	p.poke()
	return out, nil
}

// applySets applies path=value edits in a stable order.
func applySets(body []byte, sets map[string]json.RawMessage) ([]byte, error) {
	paths := make([]string, 0, len(sets))
	for path := range sets {
		paths = append(paths, path)
	}
	sort.Strings(paths)
	for _, path := range paths {
		var err error
		if body, err = jsonedit.Set(body, path, string(sets[path])); err != nil {
			return nil, &InputError{loc("body", "set", path), err.Error()}
		}
	}
	return body, nil
}

// eventResource is the event as GET /v1/events shows it: the newest
// payload shape without the subscription it went to. Monk's bodies are the
// object alone, so its events wrap it.
func (p *Provider) eventResource(payload func(version, subID string) ([]byte, error), id string, ev catalog.Event, now time.Time) (json.RawMessage, error) {
	body, err := payload(catalog.DefaultAPIVersion, "")
	if err != nil {
		return nil, err
	}
	if p.monk() {
		return json.Marshal(struct {
			ID         string          `json:"id"`
			CreatedAt  string          `json:"created_at"`
			Action     string          `json:"action"`
			ObjectType string          `json:"object_type"`
			Object     json.RawMessage `json:"object"`
		}{id, stamp(now.UnixMicro()), ev.Action(), ev.ObjectType, body})
	}
	out, err := dropKey(body, "webhook_subscription_id")
	if err != nil {
		return nil, &InputError{loc("body", "set"), "the edited event is not a JSON object"}
	}
	return out, nil
}

// dropKey returns the JSON object obj without key, the other members in
// their order.
func dropKey(obj []byte, key string) (json.RawMessage, error) {
	dec := json.NewDecoder(bytes.NewReader(obj))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return nil, errors.New("not an object")
	}
	var b bytes.Buffer
	b.WriteByte('{')
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return nil, err
		}
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, err
		}
		if t == key {
			continue
		}
		if b.Len() > 1 {
			b.WriteByte(',')
		}
		k, _ := json.Marshal(t)
		b.Write(k)
		b.WriteByte(':')
		b.Write(v)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// matching returns the enabled subscriptions ev goes to. Empty event_types
// means every event of the object type.
func (p *Provider) matching(ctx context.Context, ev catalog.Event) ([]*Subscription, error) {
	rows, err := p.db.R.QueryContext(ctx, `SELECT `+subColumns+` FROM subscriptions WHERE status = 'enabled' AND object_type = ? ORDER BY created_at, rowid`, ev.ObjectType)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*Subscription
	for rows.Next() {
		s, err := scanSub(rows)
		if err != nil {
			return nil, err
		}
		if len(s.EventTypes) == 0 || slices.Contains(s.EventTypes, ev.Name) || slices.Contains(s.EventTypes, ev.Action()) {
			out = append(out, s)
		}
	}
	return out, rows.Err()
}

func (p *Provider) emitEvent(c *call) {
	var req EmitRequest
	if !c.decode(&req) {
		return
	}
	out, err := p.Emit(c.r.Context(), req)
	var ie *InputError
	switch {
	case errors.As(err, &ie):
		c.invalid(ie.Field, "%s", ie.Msg)
	case err != nil:
		c.fail(http.StatusInternalServerError, "emit: %v", err)
	default:
		c.reply(http.StatusCreated, out)
	}
}

func (p *Provider) listEvents(c *call) {
	lq, ok := parseList(c, "events", append([]string{"object_type", "event_action"}, timeFilters...))
	if !ok {
		return
	}
	clause, args := lq.sql(map[string]string{"object_type": "object_type", "event_action": "action", "updated_at": "created_at"})
	rows, err := p.db.R.QueryContext(c.r.Context(), `SELECT resource FROM events WHERE 1=1`+clause, args...)
	if err != nil {
		c.fail(http.StatusInternalServerError, "list: %v", err)
		return
	}
	defer rows.Close()
	var items []any
	for rows.Next() {
		var r string
		if err := rows.Scan(&r); err != nil {
			c.fail(http.StatusInternalServerError, "list: %v", err)
			return
		}
		items = append(items, json.RawMessage(r))
	}
	lq.answer(c, items)
}

func (p *Provider) getEvent(c *call) {
	var r string
	err := p.db.R.QueryRowContext(c.r.Context(), `SELECT resource FROM events WHERE id = ?`, c.pathID()).Scan(&r)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		c.fail(http.StatusNotFound, "event %q not found", c.r.PathValue("id"))
	case err != nil:
		c.fail(http.StatusInternalServerError, "read event: %v", err)
	default:
		c.reply(http.StatusOK, json.RawMessage(r))
	}
}
