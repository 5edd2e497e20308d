package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/hooktap/hooktap/inspector/catalog"
	"github.com/hooktap/hooktap/inspector/forward"
	"github.com/hooktap/hooktap/inspector/jsonedit"
	"github.com/hooktap/hooktap/inspector/signing"
	"github.com/hooktap/hooktap/relay"
)

// defaultTriggerTo is the ingress of the relay `hooktap dev` embeds.
const defaultTriggerTo = "http://127.0.0.1:8789/h/dev"

func cmdTrigger(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "trigger", "trigger EVENT [--to URL] [--secret S] [--scheme X] [--entity-id ID] [--set path=value]... [--count N] [--api-version V] [--json]\n       hooktap trigger --list")
	to := fs.String("to", defaultTriggerTo, "where to POST: a relay ingress URL (the full path) or your app's endpoint")
	var secret secretFlag
	secret.register(fs, e, "signing `secret`; without one the request goes unsigned")
	scheme := fs.String("scheme", signing.DefaultScheme, "signing scheme: "+strings.Join(signing.Names(), ", "))
	entityID := fs.String("entity-id", "", "entity_id in the payload (default: one random id for the run)")
	var sets assignments
	fs.Var(&sets, "set", "change a JSON field of the payload: `path=value`, e.g. object.status=paid (repeatable)")
	count := fs.Int("count", 1, "how many events to send, each with fresh ids")
	apiVersion := fs.String("api-version", catalog.DefaultAPIVersion, "payload shape: "+strings.Join(catalog.APIVersions(), ", "))
	list := fs.Bool("list", false, "print the event catalog and exit")
	jsonOut := fs.Bool("json", false, "print JSON lines")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if *list {
		if len(pos) > 0 {
			return usagef("trigger --list takes no event")
		}
		return printCatalog(e, *jsonOut)
	}
	switch len(pos) {
	case 0:
		return usagef("trigger needs an event, e.g. hooktap trigger payable.created (hooktap trigger --list shows them all)")
	case 1:
	default:
		return usagef("trigger takes one event, got %d arguments", len(pos))
	}
	ev, err := catalog.Lookup(pos[0])
	if err != nil {
		return usageError{err.Error()}
	}
	if *count < 1 {
		return usagef("--count must be at least 1")
	}
	sc, err := signing.Lookup(*scheme)
	if err != nil {
		return usageError{err.Error()}
	}
	fwd, err := forward.New(*to, 0)
	if err != nil {
		return usagef("--to: %v", err)
	}
	if *entityID == "" {
		*entityID = uuid.NewString()
	}
	// Build every payload first, so a bad --set or --api-version fails
	// before anything is sent.
	type request struct {
		eventID string
		body    []byte
	}
	reqs := make([]request, *count)
	for i := range reqs {
		eventID := uuid.NewString()
		body, err := catalog.Payload(ev, catalog.Options{APIVersion: *apiVersion, EntityID: *entityID, EventID: eventID})
		if err != nil {
			if errors.Is(err, catalog.ErrUnknownVersion) {
				return usageError{err.Error()}
			}
			return err
		}
		for _, s := range sets {
			path, value, _ := jsonedit.ParseAssignment(s)
			if body, err = jsonedit.Set(body, path, value); err != nil {
				return usagef("--set %s: %v", s, err)
			}
		}
		reqs[i] = request{eventID, body}
	}
	if !*jsonOut {
		if secret.value == "" {
			fmt.Fprintf(e.stderr, "note: sending unsigned (no --secret or HOOKTAP_SECRET); apps that check signatures will reject it\n")
		} else {
			fmt.Fprintf(e.stderr, "signing with %s (secret from %s)\n", sc.Name(), secret.source)
		}
	}
	enc := json.NewEncoder(e.stdout)
	failed := 0
	for _, r := range reqs {
		h := http.Header{}
		h.Set("Content-Type", "application/json")
		h.Set("User-Agent", "hooktap/"+buildVersion())
		if secret.value != "" {
			m := signing.Message{ID: r.eventID, Event: ev.Action(), Timestamp: time.Now(), Body: r.body}
			if err := sc.Sign(h, m, secret.value); err != nil {
				return err
			}
		}
		a := fwd.Forward(ctx, forward.Request{Method: http.MethodPost, Header: h, Body: r.body})
		if ctx.Err() != nil {
			return ctx.Err()
		}
		ok := a.Status >= 200 && a.Status < 300
		if !ok {
			failed++
		}
		if *jsonOut {
			l := triggerLine{Type: "trigger", Event: ev.Action(), EventID: r.eventID, URL: a.Target,
				Status: a.Status, DurationMS: a.DurationMS(), Error: a.Error, Delivery: a.Header.Get(relay.HeaderDelivery)}
			if secret.value != "" {
				l.Scheme = sc.Name()
			}
			if err := enc.Encode(l); err != nil {
				return err
			}
			continue
		}
		status := fmt.Sprint(a.Status)
		if a.Status == 0 {
			status = "ERR"
		}
		line := fmt.Sprintf("%s  %-3s  %-36s %8.1fms  %s", clock(time.Now()), status, ev.Action(), a.DurationMS(), r.eventID)
		if id := a.Header.Get(relay.HeaderDelivery); id != "" {
			line += "  delivery " + id // through a relay: the id events list shows
		}
		if a.Error != "" {
			line += "  " + a.Error
		}
		fmt.Fprintln(e.stdout, line)
	}
	if failed > 0 {
		return fmt.Errorf("%d of %d requests to %s got no 2xx answer", failed, len(reqs), fwd.Target())
	}
	return nil
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
	fmt.Fprintf(e.stdout, "\n%d events. Send one with: hooktap trigger payable.created\n", len(catalog.All()))
	return nil
}
