package catalog

import (
	"encoding/json"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestMonkEvents: every event Monk's docs list looks up, as a Monk event,
// and gets a flat camelCase body with id, createdAt and updatedAt.
func TestMonkEvents(t *testing.T) {
	want := "contract.created contract.terminated contract.updated credit.balance_depleted credit.threshold_crossed customer.created customer.updated invoice.created invoice.updated"
	var got []string
	camel := regexp.MustCompile(`^[a-z][a-zA-Z0-9]*$`)
	for _, e := range MonkEvents() {
		got = append(got, e.Action())
		l, err := Lookup(e.Action())
		if err != nil || l.Flavor != FlavorMonk {
			t.Errorf("Lookup(%s) = %+v, %v", e.Action(), l, err)
		}
		now := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
		b, err := Payload(l, Options{ObjectID: "obj_1", EntityID: "cus_1", Now: now})
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]any
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatalf("%s: %s", e.Action(), b)
		}
		for k, v := range m {
			if !camel.MatchString(k) {
				t.Errorf("%s: key %q is not camelCase", e.Action(), k)
			}
			if _, nested := v.(map[string]any); nested {
				t.Errorf("%s: %q is nested; Monk's bodies are flat", e.Action(), k)
			}
		}
		if m["id"] != "obj_1" || m["updatedAt"] != "2026-11-30T12:00:00.000Z" || m["createdAt"] == nil {
			t.Errorf("%s: %s", e.Action(), b)
		}
		if strings.HasPrefix(e.Action(), "invoice.") && m["customerId"] != "cus_1" {
			t.Errorf("%s: no customerId: %s", e.Action(), b)
		}
	}
	if strings.Join(got, " ") != want {
		t.Errorf("Monk events: %s", strings.Join(got, " "))
	}
	if _, err := Lookup("invoice.paid"); err == nil {
		t.Error("invoice.paid is no Monk event")
	}
}
