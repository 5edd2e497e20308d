// Package catalog knows the webhook events Monite sends and builds realistic
// payloads for them in each API version's shape.
//
// Spellings are Monite's own, inconsistencies included (comment.create next
// to comment.created, counterpart.delete next to counterpart.created): the
// catalog shows what real deliveries carry rather than what they should.
package catalog

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// ErrUnknownEvent is returned by Lookup for an action not in the catalog.
var ErrUnknownEvent = errors.New("unknown event")

// Event is one kind of webhook event.
type Event struct {
	ObjectType string // e.g. "payable", "counterpart_address"
	Name       string // the part after the object type: "created", "onboarding_requirements.status_updated"
	Flavor     string // "" for Monite's events, FlavorMonk for Monk's
}

// Action is the event's full name as sent in the payload's action field,
// e.g. "payable.created".
func (e Event) Action() string { return e.ObjectType + "." + e.Name }

// String returns the action.
func (e Event) String() string { return e.Action() }

// table is the catalog in WEBHOOKS.md plus the events only the oldest docs
// (seed 002) list. Do not "fix" the spellings.
var table = []struct {
	objectType string
	names      []string
}{
	{"accounting_connection", []string{"connected", "disconnected", "deauthorized", "pending_auth"}},
	{"approval_policy", []string{"created", "deleted", "process_canceled", "updated"}},
	{"approval_policy_process", []string{"created", "execution_error"}},
	{"approval_request", []string{"approved", "canceled", "created", "rejected"}},
	{"batch_payment", []string{"status_updated"}},
	// The newer docs spell these create/update, the oldest created/updated.
	{"comment", []string{"create", "update", "created", "updated"}},
	{"counterpart", []string{"created", "delete", "metadata_update", "updated"}},
	{"counterpart_address", []string{"created", "delete", "made_default", "update"}},
	{"counterpart_bank_account", []string{"created", "delete", "update"}},
	{"counterpart_contact_person", []string{"created", "delete", "make_default", "update"}},
	{"counterpart_tax_id", []string{"created", "delete", "update"}},
	{"counterpart_vat_id", []string{"created", "delete", "update"}},
	{"delivery_note", []string{"created", "updated", "delivered", "canceled", "deleted"}},
	{"entity", []string{"created", "updated", "onboarding_requirements.status_updated", "onboarding_requirements.updated",
		"payment_method.us_ach.activated", "payment_method.us_ach.deactivated"}},
	{"entity_user", []string{"created", "updated", "deleted"}},
	{"ocr_task", []string{"finished"}},
	{"payable", []string{"approved", "canceled", "created_from_mail", "created", "deleted", "multiple_approval_policies_matched",
		"rejected", "ocr_finished", "paid", "partially_paid", "reopened", "submitted_for_approval", "updated"}},
	{"payable_line_item", []string{"created", "deleted", "updated"}},
	{"payment", []string{"created", "updated"}},
	{"payment_intent", []string{"status_updated"}},
	{"payment_link", []string{"created", "status_updated"}},
	{"project", []string{"created", "deleted", "updated"}},
	{"receipt", []string{"created", "deleted", "updated", "ocr_finished"}},
	{"role", []string{"created", "updated", "deleted"}},
	{"tag", []string{"created", "deleted", "updated"}},
}

// all is the catalog sorted by action; byAction indexes it.
var (
	all      []Event
	byAction = map[string]Event{}
)

func init() {
	for _, row := range table {
		for _, name := range row.names {
			e := Event{ObjectType: row.objectType, Name: name}
			if _, dup := byAction[e.Action()]; !dup {
				byAction[e.Action()] = e
				all = append(all, e)
			}
		}
	}
	slices.SortFunc(all, func(a, b Event) int { return cmp.Compare(a.Action(), b.Action()) })
}

// All returns every Monite event in the catalog, sorted by action
// (MonkEvents has Monk's).
func All() []Event { return slices.Clone(all) }

// Lookup returns the event whose action is action: Monite's, else Monk's.
// For an unknown action the error suggests up to three close spellings.
func Lookup(action string) (Event, error) {
	a := strings.ToLower(strings.TrimSpace(action))
	if e, ok := byAction[a]; ok {
		return e, nil
	}
	if e, ok := monkByAction[a]; ok {
		return e, nil
	}
	hint := ""
	if s := suggest(a, 3); len(s) > 0 {
		hint = " (did you mean " + orList(s) + "?)"
	}
	return Event{}, fmt.Errorf("%w %q%s; hooktap trigger --list shows them all", ErrUnknownEvent, action, hint)
}

// orList joins "a", "a or b", "a, b or c".
func orList(s []string) string {
	if len(s) == 1 {
		return s[0]
	}
	return strings.Join(s[:len(s)-1], ", ") + " or " + s[len(s)-1]
}
