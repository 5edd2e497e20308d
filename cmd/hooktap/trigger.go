package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/hooktap/hooktap/inspector/catalog"
	"github.com/hooktap/hooktap/inspector/forward"
	"github.com/hooktap/hooktap/inspector/jsonedit"
	"github.com/hooktap/hooktap/inspector/signing"
	"github.com/hooktap/hooktap/inspector/store"
	"github.com/hooktap/hooktap/relay"
)

// defaultTriggerTo is the ingress of the relay `hooktap dev` embeds.
const defaultTriggerTo = "http://127.0.0.1:8789/h/dev"

func cmdTrigger(ctx context.Context, e *env, args []string) error {
	var f triggerFlags
	fs := newFlags(e, "trigger", "trigger EVENT [--to URL | --provider URL] [--secret S] [--scheme X] [--entity-id ID] [--set path=value]... [--count N] [--api-version V] [--json]\n"+
		"       hooktap trigger --fixture FILE | --from ID[,ID...] [--db FILE] [--to URL] [--secret S] [--set path=value]... [--count N] [--json]\n"+
		"       hooktap trigger --list")
	f.register(fs, e)
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if f.fixture != "" || f.from != "" {
		schemeSet := false
		fs.Visit(func(fl *flag.Flag) { schemeSet = schemeSet || fl.Name == "scheme" })
		return triggerFixture(ctx, e, &f, schemeSet, pos)
	}
	if f.list {
		if len(pos) > 0 {
			return usagef("trigger --list takes no event")
		}
		return printCatalog(e, f.json)
	}
	if f.provider != "" {
		return triggerProvider(ctx, e, fs, &f, pos)
	}
	t, err := f.check(pos)
	if err != nil {
		return err
	}
	reqs, err := t.payloads(f.count, f.sets)
	if err != nil {
		return err
	}
	if !f.json {
		if f.secret.value == "" {
			fmt.Fprintf(e.stderr, "note: sending unsigned (no --secret or HOOKTAP_SECRET); apps that check signatures will reject it\n")
		} else {
			fmt.Fprintf(e.stderr, "signing with %s (secret from %s)\n", t.scheme.Name(), f.secret.source)
		}
	}
	out := triggerReport{w: printable{e.stdout}, json: f.json, enc: json.NewEncoder(e.stdout)}
	failed := 0
	for i, r := range reqs {
		a, err := t.send(ctx, r)
		if ctx.Err() != nil {
			return interruptedf("interrupted %s", requestsDone(i, len(reqs)))
		}
		if err != nil {
			return err
		}
		if a.Status < 200 || a.Status >= 300 {
			failed++
		}
		if err := out.line(t, r, a); err != nil {
			return err
		}
	}
	if failed > 0 {
		return fmt.Errorf("%d of %d requests to %s got no 2xx answer", failed, len(reqs), t.fwd.Target())
	}
	return nil
}

// triggerFlags are trigger's flags.
type triggerFlags struct {
	to, scheme, entityID, apiVersion string
	fixture, from, db                string // a fixture file, or recorded deliveries, to send instead of EVENT
	provider, providerToken          string
	secret                           secretFlag
	sets                             assignments
	count                            int
	list, json                       bool
}

func (f *triggerFlags) register(fs *flag.FlagSet, e *env) {
	fs.StringVar(&f.to, "to", defaultTriggerTo, "where to POST: a relay ingress URL (the full path) or your app's endpoint")
	f.secret.register(fs, e, "signing `secret`; without one the request goes unsigned")
	fs.StringVar(&f.scheme, "scheme", "", "signing scheme: "+strings.Join(signing.Names(), ", ")+" (default: monite; monk for Monk's events)")
	fs.StringVar(&f.entityID, "entity-id", "", "entity_id in the payload (default: one random id for the run)")
	fs.Var(&f.sets, "set", "change a JSON field of the payload: `path=value`, e.g. object.status=paid (repeatable)")
	fs.IntVar(&f.count, "count", 1, "how many events to send, each with fresh ids")
	fs.StringVar(&f.apiVersion, "api-version", catalog.DefaultAPIVersion, "payload shape: "+strings.Join(catalog.APIVersions(), ", "))
	fs.StringVar(&f.fixture, "fixture", "", "send the steps of a fixture `file` (hooktap events save writes them; - reads stdin)")
	fs.StringVar(&f.from, "from", "", "send recorded deliveries again as new events: `ids`, comma-separated, one step each")
	fs.StringVar(&f.db, "db", defaultDB(e), "SQLite file of recorded deliveries, for --from (or HOOKTAP_DB)")
	fs.StringVar(&f.provider, "provider", "", "make the provider emulator at this `URL` (e.g. http://127.0.0.1:8790) emit the event to its subscriptions")
	fs.StringVar(&f.providerToken, "provider-token", envOr(e, "HOOKTAP_PROVIDER_TOKEN", "hooktap"), "bearer `token` for --provider (or HOOKTAP_PROVIDER_TOKEN)")
	fs.BoolVar(&f.list, "list", false, "print the event catalog and exit")
	fs.BoolVar(&f.json, "json", false, "print JSON lines")
}

// trigger is a checked trigger command: what to send, how, and where.
type trigger struct {
	event      catalog.Event
	scheme     signing.Scheme
	secret     string
	fwd        *forward.Forwarder
	entityID   string
	apiVersion string
}

// check reads the event and checks the flags: usage errors before
// anything is sent.
func (f *triggerFlags) check(pos []string) (*trigger, error) {
	switch len(pos) {
	case 0:
		return nil, usagef("trigger needs an event, e.g. hooktap trigger payable.created (hooktap trigger --list shows them all)")
	case 1:
	default:
		return nil, usagef("trigger takes one event, got %d arguments", len(pos))
	}
	ev, err := catalog.Lookup(pos[0])
	if err != nil {
		return nil, usageError{err.Error()}
	}
	if f.count < 1 {
		return nil, usagef("--count must be at least 1")
	}
	scheme := f.scheme
	if scheme == "" {
		scheme = signing.DefaultScheme
		if ev.Flavor == catalog.FlavorMonk {
			scheme = "monk"
		}
	}
	sc, err := signing.Lookup(scheme)
	if err != nil {
		return nil, usageError{err.Error()}
	}
	fwd, err := forward.New(f.to, 0)
	if err != nil {
		return nil, usagef("--to: %v", err)
	}
	t := &trigger{event: ev, scheme: sc, secret: f.secret.value, fwd: fwd, entityID: f.entityID, apiVersion: f.apiVersion}
	if t.entityID == "" {
		t.entityID = uuid.NewString()
	}
	return t, nil
}

// triggerRequest is one event to send.
type triggerRequest struct {
	eventID string
	body    []byte
}

// payloads builds every payload first, so that a bad --set or
// --api-version fails before anything is sent.
func (t *trigger) payloads(count int, sets assignments) ([]triggerRequest, error) {
	reqs := make([]triggerRequest, count)
	for i := range reqs {
		eventID := uuid.NewString()
		body, err := catalog.Payload(t.event, catalog.Options{APIVersion: t.apiVersion, EntityID: t.entityID, EventID: eventID})
		if err != nil {
			if errors.Is(err, catalog.ErrUnknownVersion) {
				return nil, usageError{err.Error()}
			}
			return nil, err
		}
		for _, s := range sets {
			path, value, _ := jsonedit.ParseAssignment(s)
			if body, err = jsonedit.Set(body, path, value); err != nil {
				return nil, usagef("--set %s: %v", s, err)
			}
		}
		reqs[i] = triggerRequest{eventID, body}
	}
	return reqs, nil
}

// send signs r (when there is a secret) with a fresh timestamp and POSTs it.
func (t *trigger) send(ctx context.Context, r triggerRequest) (*store.Attempt, error) {
	h := http.Header{}
	h.Set("Content-Type", "application/json")
	h.Set("User-Agent", "hooktap/"+buildVersion())
	monkEventHeaders(h, t.event, r.eventID)
	if t.secret != "" {
		m := signing.Message{ID: r.eventID, Event: t.event.Action(), Timestamp: time.Now(), Body: r.body}
		if err := t.scheme.Sign(h, m, t.secret); err != nil {
			return nil, err
		}
	}
	a := t.fwd.Forward(ctx, forward.Request{Method: http.MethodPost, Header: h, Body: r.body, Origin: true})
	return a, ctx.Err()
}

// monkEventHeaders names a Monk event in the headers Monk sends it with,
// signed or not: its body does not say which event it is, and without
// X-Monk-Event the relay sees no action, so an agent's --events filter
// would not take it.
func monkEventHeaders(h http.Header, ev catalog.Event, id string) {
	if ev.Flavor != catalog.FlavorMonk {
		return
	}
	h.Set("X-Monk-Event", ev.Action())
	if id != "" {
		h.Set("X-Monk-Delivery-Id", id)
	}
}

// triggerReport prints one line per request: for people, or JSON.
type triggerReport struct {
	w    io.Writer
	json bool
	enc  *json.Encoder
}

func (o triggerReport) line(t *trigger, r triggerRequest, a *store.Attempt) error {
	l := triggerLine{Type: "trigger", Event: t.event.Action(), EventID: r.eventID, URL: a.Target,
		Status: a.Status, DurationMS: a.DurationMS(), Error: a.Error,
		Delivery: a.Header.Get(relay.HeaderDelivery)} // through a relay: the id events list shows
	if t.secret != "" {
		l.Scheme = t.scheme.Name()
	}
	if o.json {
		return o.enc.Encode(l)
	}
	return printTriggerLine(o.w, l)
}

// printTriggerLine prints one sent event for people.
func printTriggerLine(w io.Writer, l triggerLine) error {
	status := fmt.Sprint(l.Status)
	if l.Status == 0 {
		status = "ERR"
	}
	line := fmt.Sprintf("%s  %-3s  %-36s %8.1fms  %s", clock(time.Now()), status, l.Event, l.DurationMS, l.EventID)
	if l.Delivery != "" {
		line += "  delivery " + l.Delivery
	}
	if l.Error != "" {
		line += "  " + l.Error
	}
	_, err := fmt.Fprintln(w, line)
	return err
}

// triggerLine is one sent event in --json output.
type triggerLine struct {
	Type       string  `json:"type"`
	Event      string  `json:"event"`
	EventID    string  `json:"event_id"`
	URL        string  `json:"url"`
	Status     int     `json:"status"`
	DurationMS float64 `json:"duration_ms"`
	Error      string  `json:"error,omitempty"`
	Scheme     string  `json:"scheme,omitempty"` // empty: unsigned
	Delivery   string  `json:"delivery,omitempty"`
}

// printCatalog prints the events grouped by object type, and the API
// versions payloads can be shaped for.
func printCatalog(e *env, jsonOut bool) error {
	var order []string
	groups := map[string][]string{}
	for _, ev := range catalog.All() {
		if _, ok := groups[ev.ObjectType]; !ok {
			order = append(order, ev.ObjectType)
		}
		groups[ev.ObjectType] = append(groups[ev.ObjectType], ev.Name)
	}
	if jsonOut {
		enc := json.NewEncoder(e.stdout)
		for _, ev := range catalog.All() {
			if err := enc.Encode(map[string]string{"action": ev.Action(), "object_type": ev.ObjectType}); err != nil {
				return err
			}
		}
		for _, ev := range catalog.MonkEvents() {
			if err := enc.Encode(map[string]string{"action": ev.Action(), "object_type": ev.ObjectType, "provider": "monk"}); err != nil {
				return err
			}
		}
		return nil
	}
	versions := catalog.APIVersions()
	for i, v := range versions {
		if v == catalog.DefaultAPIVersion {
			versions[i] += " (default)"
		}
	}
	fmt.Fprintf(e.stdout, "API versions (--api-version): %s\n\n", strings.Join(versions, ", "))
	width := 0
	for _, t := range order {
		width = max(width, len(t))
	}
	for _, t := range order {
		fmt.Fprintf(e.stdout, "%-*s  %s\n", width, t, strings.Join(groups[t], ", "))
	}
	var monk []string
	for _, ev := range catalog.MonkEvents() {
		monk = append(monk, ev.Action())
	}
	fmt.Fprintf(e.stdout, "\nMonk's events (flat camelCase bodies, signed with monk): %s\n", strings.Join(monk, ", "))
	fmt.Fprintf(e.stdout, "\n%d events. Send one with: %s trigger payable.created\n", len(catalog.All())+len(monk), selfCommand())
	return nil
}
