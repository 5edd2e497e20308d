package main

import (
	"encoding/json"
	"net/http"
	"strings"

	"github.com/hooktap/hooktap/inspector/catalog"
	"github.com/hooktap/hooktap/inspector/store"
	"github.com/hooktap/hooktap/relay"
	"github.com/hooktap/hooktap/relay/payload"
)

// example is the test webhook the ready banner offers: one that the
// agent's filter takes, or the relay keeps it for another agent (202) and
// the app never sees it.
type example struct {
	action   string
	entityID string // the filter's first entity, "" without one
	object   string // object_type for the body, when the filter names some
	trigger  bool   // action is in trigger's catalog
	provider string // whose event it is: Monite or Monk
	matches  bool   // the filter takes it
}

// exampleFor picks the example: the first catalog event the filter takes;
// else the filter's first event pattern when it is a plain name; else
// payable.created, said not to match.
func exampleFor(f relay.Filter) example {
	x := example{}
	if len(f.EntityIDs) > 0 {
		x.entityID = f.EntityIDs[0]
	}
	if len(f.ObjectTypes) > 0 {
		x.object = f.ObjectTypes[0]
	}
	// payable.created first: the example when nothing filters.
	first, _ := catalog.Lookup("payable.created")
	for _, ev := range append(append([]catalog.Event{first}, catalog.All()...), catalog.MonkEvents()...) {
		c := x
		c.action, c.trigger, c.provider = ev.Action(), true, "Monite"
		if ev.Flavor == catalog.FlavorMonk {
			c.provider = "Monk"
		}
		if c.takenBy(f) {
			c.matches = true
			return c
		}
	}
	if len(f.Events) > 0 && !strings.ContainsAny(f.Events[0], `*?[\`) {
		c := x
		c.action = f.Events[0]
		if c.takenBy(f) {
			c.matches = true
			return c
		}
	}
	// The loop above tried it: it does not match.
	return example{action: "payable.created", trigger: true, provider: "Monite"}
}

// takenBy says whether f takes both the curl's body and trigger's payload
// (when x has one), as the relay reads them.
func (x example) takenBy(f relay.Filter) bool {
	curl := payload.Parse(http.Header{}, x.body())
	if !f.Match(relay.EventOf(&curl)) {
		return false
	}
	if !x.trigger {
		return true
	}
	ev, err := catalog.Lookup(x.action)
	if err != nil {
		return false
	}
	body, err := catalog.Payload(ev, catalog.Options{EntityID: x.entityID})
	if err != nil {
		return false
	}
	h := http.Header{}
	monkEventHeaders(h, ev, "")
	sent := payload.Parse(h, body)
	return f.Match(relay.EventOf(&sent))
}

// body is the curl's JSON: short, so that its line fits 80 columns.
func (x example) body() []byte {
	b := []byte(`{"action":` + jsonString(x.action))
	if x.object != "" {
		b = append(b, `,"object_type":`+jsonString(x.object)...)
	}
	if x.entityID != "" {
		b = append(b, `,"entity_id":`+jsonString(x.entityID)...)
	}
	return append(b, `,"object":{"id":"pay_1"}}`...)
}

func jsonString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// tryIt is the example's curl and trigger commands, for the terminal UI
// and the web page (tui.Options.TryIt, web.Options.TryIt).
func (x example) tryIt(webhookURL string) (curl, trigger string) {
	return x.curl(webhookURL), x.triggerCommand(webhookURL)
}

// curl is the command that POSTs the example to webhookURL.
func (x example) curl(webhookURL string) string {
	return store.ExampleCurlBody(webhookURL, x.body())
}

// triggerCommand is the trigger command that sends the example's catalog
// event to webhookURL ("" when the action is not in the catalog).
func (x example) triggerCommand(webhookURL string) string {
	if !x.trigger {
		return ""
	}
	// A catalog name needs no quotes.
	cmd := selfCommand() + " trigger " + x.action + " --to " + store.ShellWord(webhookURL)
	if x.entityID != "" {
		cmd += " --entity-id " + store.ShellWord(x.entityID)
	}
	return cmd
}
