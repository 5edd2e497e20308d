package catalog

import (
	"bytes"
	"encoding/json"
)

// field is one member of an object, kept in order.
type field struct {
	key   string
	value any
}

// object is a JSON object whose keys stay in the order given.
type object []field

// MarshalJSON writes the fields in order.
func (o object) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, f := range o {
		if i > 0 {
			b.WriteByte(',')
		}
		k, err := json.Marshal(f.key)
		if err != nil {
			return nil, err
		}
		v, err := json.Marshal(f.value)
		if err != nil {
			return nil, err
		}
		b.Write(k)
		b.WriteByte(':')
		b.Write(v)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// fields returns a few realistic fields for the object an event is about,
// besides its id. Kept small on purpose: the point is a plausible body, not
// a full resource.
func fields(e Event, src source) object {
	amount := func() int { return 100 + src.intN(500000) } // minor units
	switch e.ObjectType {
	case "payable":
		return object{{"status", payableStatus(e.Name)}, {"amount", amount()}, {"currency", "EUR"}}
	case "receipt", "payment":
		return object{{"amount", amount()}, {"currency", "EUR"}}
	case "payment_intent":
		return object{{"status", "succeeded"}, {"amount", amount()}, {"currency", "EUR"}}
	case "payment_link":
		return object{{"status", "active"}, {"amount", amount()}, {"currency", "EUR"}}
	case "payable_line_item":
		return object{{"quantity", 1 + src.intN(10)}, {"unit_price", amount()}}
	case "counterpart", "entity":
		return object{{"type", "organization"}, {"status", "active"}}
	case "counterpart_address":
		return object{{"city", "Berlin"}, {"country", "DE"}}
	case "counterpart_bank_account":
		return object{{"country", "DE"}, {"currency", "EUR"}}
	case "counterpart_contact_person":
		return object{{"first_name", "Ada"}, {"last_name", "Lovelace"}}
	case "counterpart_tax_id", "counterpart_vat_id":
		return object{{"type", "eu_vat"}, {"value", "DE123456789"}}
	case "entity_user", "role", "approval_policy":
		return object{{"status", "active"}}
	case "approval_request", "delivery_note":
		return object{{"status", statusFrom(e.Name, "created")}}
	case "approval_policy_process":
		return object{{"status", statusFrom(e.Name, "running")}}
	case "accounting_connection":
		return object{{"platform", "xero"}, {"status", statusFrom(e.Name, "connected")}}
	case "batch_payment":
		return object{{"status", "completed"}}
	case "ocr_task":
		return object{{"status", "success"}}
	case "comment":
		return object{{"text", "Please double-check the amount."}}
	case "project":
		return object{{"name", "Website relaunch"}}
	case "tag":
		return object{{"name", "Marketing"}}
	}
	return nil
}

// statusFrom uses the event name as the object's status when it reads like
// one ("approved", "canceled"), else def.
func statusFrom(name, def string) string {
	switch name {
	case "approved", "canceled", "rejected", "delivered", "connected", "disconnected", "deauthorized", "pending_auth":
		return name
	case "execution_error":
		return "failed"
	}
	return def
}

// payableStatus is a payable's status after the event.
func payableStatus(name string) string {
	switch name {
	case "approved":
		return "waiting_to_be_paid"
	case "canceled", "rejected", "paid", "partially_paid":
		return name
	case "submitted_for_approval", "multiple_approval_policies_matched":
		return "approve_in_progress"
	case "reopened", "updated":
		return "new"
	}
	return "draft"
}
