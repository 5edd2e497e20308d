package catalog

import (
	"cmp"
	"slices"
	"strconv"
	"time"
)

// FlavorMonk marks Monk's events; Monite's have no flavor.
const FlavorMonk = "monk"

// monkTable is Monk's events, as its docs list them (WEBHOOKS.md).
var monkTable = []struct {
	objectType string
	names      []string
}{
	{"contract", []string{"created", "updated", "terminated"}},
	{"credit", []string{"balance_depleted", "threshold_crossed"}},
	{"customer", []string{"created", "updated"}},
	{"invoice", []string{"created", "updated"}},
}

var (
	monkAll      []Event
	monkByAction = map[string]Event{}
)

func init() {
	for _, row := range monkTable {
		for _, name := range row.names {
			e := Event{ObjectType: row.objectType, Name: name, Flavor: FlavorMonk}
			monkAll = append(monkAll, e)
			monkByAction[e.Action()] = e
		}
	}
	slices.SortFunc(monkAll, func(a, b Event) int { return cmp.Compare(a.Action(), b.Action()) })
}

// MonkEvents returns Monk's events, sorted by action.
func MonkEvents() []Event { return slices.Clone(monkAll) }

// monkPayload is the body Monk sends: the object itself, flat, in
// camelCase, with id, createdAt and updatedAt. The docs give the shape, not
// the fields; these are plausible ones. The event is in X-Monk-Event, not
// the body.
func monkPayload(e Event, o Options, src source) object {
	amount := 100 + src.intN(500000)
	stamp := func(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z07:00") }
	created := o.Now
	if e.Name != "created" {
		created = o.Now.Add(-time.Duration(1+src.intN(30*24)) * time.Hour)
	}
	obj := object{{"id", o.ObjectID}}
	switch e.ObjectType {
	case "invoice":
		status := "draft"
		if e.Name == "updated" {
			status = "open"
		}
		obj = append(obj, field{"customerId", o.EntityID}, field{"number", "INV-2026-" + pad4(1+src.intN(9999))},
			field{"status", status}, field{"amountDue", amount}, field{"currency", "EUR"},
			field{"dueDate", o.Now.AddDate(0, 0, 30).UTC().Format(time.DateOnly)})
	case "contract":
		status := "active"
		if e.Name == "terminated" {
			status = "terminated"
		}
		obj = append(obj, field{"customerId", o.EntityID}, field{"name", "Pro plan"}, field{"status", status},
			field{"startDate", created.UTC().Format(time.DateOnly)})
		if e.Name == "terminated" {
			obj = append(obj, field{"endDate", o.Now.UTC().Format(time.DateOnly)})
		}
	case "customer":
		obj = append(obj, field{"name", "Acme GmbH"}, field{"email", "billing@acme.example"}, field{"currency", "EUR"})
	case "credit":
		balance, threshold := amount/10, amount/5
		if e.Name == "balance_depleted" {
			balance = 0
		}
		obj = append(obj, field{"customerId", o.EntityID}, field{"balance", balance}, field{"threshold", threshold}, field{"currency", "EUR"})
	}
	return append(obj, field{"createdAt", stamp(created)}, field{"updatedAt", stamp(o.Now)})
}

func pad4(n int) string {
	s := "000" + strconv.Itoa(n)
	return s[len(s)-4:]
}
