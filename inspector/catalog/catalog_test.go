package catalog

import (
	"bytes"
	"encoding/json"
	"errors"
	"math/rand/v2"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestAllSortedAndUnique(t *testing.T) {
	events := All()
	if !slices.IsSortedFunc(events, func(a, b Event) int { return strings.Compare(a.Action(), b.Action()) }) {
		t.Error("All is not sorted by action")
	}
	seen := map[string]bool{}
	for _, e := range events {
		if seen[e.Action()] {
			t.Errorf("duplicate %s", e.Action())
		}
		seen[e.Action()] = true
		if strings.Contains(e.ObjectType, ".") {
			t.Errorf("%s: object type with a dot", e.Action())
		}
	}
	events[0].Name = "mutated"
	if All()[0].Name == "mutated" {
		t.Error("All returned the catalog itself")
	}
}

func TestQuirkySpellingsKept(t *testing.T) {
	for _, a := range []string{
		"comment.create", "comment.update", "comment.created", "comment.updated",
		"counterpart.delete", "counterpart.created", "counterpart.metadata_update",
		"counterpart_address.made_default", "counterpart_contact_person.make_default",
		"counterpart_vat_id.update", "counterpart_tax_id.delete",
		"entity.onboarding_requirements.status_updated", "entity.payment_method.us_ach.deactivated",
		"payable.created_from_mail", "payable.multiple_approval_policies_matched",
		"accounting_connection.pending_auth", "approval_policy_process.execution_error",
		"role.deleted", "entity_user.deleted", "payment.updated", "ocr_task.finished",
	} {
		e, err := Lookup(a)
		if err != nil {
			t.Errorf("Lookup(%q): %v", a, err)
			continue
		}
		if e.Action() != a {
			t.Errorf("Lookup(%q).Action() = %q", a, e.Action())
		}
	}
	e, _ := Lookup("entity.onboarding_requirements.status_updated")
	if e.ObjectType != "entity" || e.Name != "onboarding_requirements.status_updated" {
		t.Errorf("dotted sub-event split wrong: %+v", e)
	}
	// "Fixed" spellings must not sneak in.
	for _, a := range []string{"counterpart.deleted", "counterpart_address.make_default", "counterpart_contact_person.made_default"} {
		if _, err := Lookup(a); err == nil {
			t.Errorf("Lookup(%q) succeeded; the catalog does not spell it so", a)
		}
	}
}

func TestLookupSuggestions(t *testing.T) {
	tests := []struct {
		in, want string
	}{
		{"payable.creatd", `unknown event "payable.creatd" (did you mean payable.created?); hooktap trigger --list shows them all`},
		{"counterpart.deleted", "did you mean counterpart.delete"},
		{"comment.creat", "did you mean comment.create or comment.created?"},
		{"xyzzy", `unknown event "xyzzy"; hooktap trigger --list`},
	}
	for _, tt := range tests {
		_, err := Lookup(tt.in)
		if err == nil || !errors.Is(err, ErrUnknownEvent) || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Lookup(%q) = %v, want %q", tt.in, err, tt.want)
		}
	}
	_, err := Lookup("payable.update")
	if n := strings.Count(err.Error(), "payable."); n < 2 || n > 4 {
		t.Errorf("want 1-3 suggestions, got %v", err)
	}
	if e, err := Lookup(" Payable.Created "); err != nil || e.Action() != "payable.created" {
		t.Errorf("Lookup is not forgiving about case and spaces: %v %v", e, err)
	}
}

// keys returns the top-level keys of a JSON object in order.
func keys(t *testing.T, b []byte) []string {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(b))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		t.Fatalf("not an object: %s", b)
	}
	var ks []string
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			t.Fatal(err)
		}
		ks = append(ks, tok.(string))
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			t.Fatal(err)
		}
	}
	return ks
}

var shapes = map[string][]string{
	"2024-05-25": {"id", "created_at", "action", "api_version", "description", "entity_id", "object", "object_type", "webhook_subscription_id"},
	"2024-01-31": {"id", "created_at", "action", "api_version", "description", "entity_id", "object", "object_type", "webhook_subscription_id"},
	"2023-09-01": {"id", "created_at", "action", "api_version", "entity_id", "name", "object", "object_id", "object_type", "significance", "webhook_subscription_id"},
	"2023-06-04": {"object_id", "entity_id", "object_type", "action", "name"},
	"legacy":     {"object_id", "object_type", "action", "name"},
}

var uuidRE = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

func TestPayloadEveryEventEveryVersion(t *testing.T) {
	if len(shapes) != len(APIVersions()) {
		t.Fatalf("test covers %d versions, package knows %v", len(shapes), APIVersions())
	}
	now := time.Date(2024, 6, 1, 12, 30, 0, 123456789, time.FixedZone("CEST", 7200))
	for _, version := range APIVersions() {
		for _, e := range All() {
			b, err := Payload(e, Options{APIVersion: version, Now: now})
			if err != nil {
				t.Fatalf("%s %s: %v", version, e, err)
			}
			if !json.Valid(b) || bytes.ContainsAny(b, "\n\t") {
				t.Fatalf("%s %s: not compact JSON: %s", version, e, b)
			}
			if got := keys(t, b); !slices.Equal(got, shapes[version]) {
				t.Fatalf("%s: keys %v, want %v", version, got, shapes[version])
			}
			var p struct {
				ID, CreatedAt, Action, APIVersion, ObjectType, ObjectID, EntityID string
				Object                                                            map[string]any
			}
			_ = json.Unmarshal(b, &struct {
				ID         *string         `json:"id"`
				CreatedAt  *string         `json:"created_at"`
				Action     *string         `json:"action"`
				APIVersion *string         `json:"api_version"`
				ObjectType *string         `json:"object_type"`
				ObjectID   *string         `json:"object_id"`
				EntityID   *string         `json:"entity_id"`
				Object     *map[string]any `json:"object"`
			}{&p.ID, &p.CreatedAt, &p.Action, &p.APIVersion, &p.ObjectType, &p.ObjectID, &p.EntityID, &p.Object})

			wantAction := e.Action()
			if version == Legacy {
				wantAction = legacyAction(e.Name)
				if !slices.Contains([]string{"create", "update", "delete"}, wantAction) {
					t.Fatalf("legacy action %q", wantAction)
				}
			}
			if p.Action != wantAction || p.ObjectType != e.ObjectType {
				t.Fatalf("%s %s: action %q object_type %q", version, e, p.Action, p.ObjectType)
			}
			if p.ObjectID == "" && p.Object != nil {
				p.ObjectID, _ = p.Object["id"].(string)
			}
			if !uuidRE.MatchString(p.ObjectID) {
				t.Fatalf("%s %s: object id %q is not a UUIDv4", version, e, p.ObjectID)
			}
			if strings.HasPrefix(version, "202") && version != "2023-06-04" {
				if p.CreatedAt != "2024-06-01T10:30:00.123456Z" || p.APIVersion != version || !uuidRE.MatchString(p.ID) {
					t.Fatalf("%s %s: created_at %q api_version %q id %q", version, e, p.CreatedAt, p.APIVersion, p.ID)
				}
				if p.Object["id"] != p.ObjectID {
					t.Fatalf("%s %s: object.id %v, object_id %q", version, e, p.Object["id"], p.ObjectID)
				}
			}
		}
	}
}

func TestPayloadSeedShapes(t *testing.T) {
	o := Options{
		APIVersion: "2023-06-04",
		ObjectID:   "f0535ce9-8cdd-4f5c-bfe2-6a7f1429fbbe",
		EntityID:   "3fa85f64-5717-4562-b3fc-2c963f66afa6",
	}
	e, _ := Lookup("counterpart.created")
	b, err := Payload(e, o)
	if err != nil {
		t.Fatal(err)
	}
	// Seed 000's example, compacted.
	want := `{"object_id":"f0535ce9-8cdd-4f5c-bfe2-6a7f1429fbbe","entity_id":"3fa85f64-5717-4562-b3fc-2c963f66afa6","object_type":"counterpart","action":"counterpart.created","name":"counterpart has been created"}`
	if string(b) != want {
		t.Errorf("2023-06-04:\n got %s\nwant %s", b, want)
	}
	o.APIVersion = Legacy
	e, _ = Lookup("entity.updated")
	b, _ = Payload(e, o)
	want = `{"object_id":"f0535ce9-8cdd-4f5c-bfe2-6a7f1429fbbe","object_type":"entity","action":"update","name":"My webhook"}`
	if string(b) != want {
		t.Errorf("legacy:\n got %s\nwant %s", b, want)
	}
}

func TestPayloadNewest(t *testing.T) {
	e, _ := Lookup("payable.paid")
	o := Options{
		EventID: "e", EntityID: "n", ObjectID: "o", SubscriptionID: "s",
		Now:  time.Date(2024, 5, 25, 8, 0, 0, 0, time.UTC),
		Rand: rand.New(rand.NewPCG(1, 2)),
	}
	b, err := Payload(e, o)
	if err != nil {
		t.Fatal(err)
	}
	var p struct {
		Description string `json:"description"`
		APIVersion  string `json:"api_version"`
		Object      struct {
			ID       string `json:"id"`
			Status   string `json:"status"`
			Amount   int    `json:"amount"`
			Currency string `json:"currency"`
		} `json:"object"`
	}
	if err := json.Unmarshal(b, &p); err != nil {
		t.Fatal(err)
	}
	if p.APIVersion != DefaultAPIVersion || p.Object.ID != "o" || p.Object.Status != "paid" || p.Object.Amount <= 0 || p.Object.Currency != "EUR" {
		t.Errorf("payload %s", b)
	}
	if p.Description != "payable has been paid" {
		t.Errorf("description %q", p.Description)
	}
	full, _ := Payload(e, Options{})
	if n := len(full); n < 300 || n > 550 {
		t.Errorf("newest payload is %d bytes, want about 400: %s", n, full)
	}
}

func TestPayloadDeterministic(t *testing.T) {
	e, _ := Lookup("payable.created")
	now := time.Date(2024, 5, 25, 8, 0, 0, 0, time.UTC)
	gen := func(seed uint64, version string) string {
		b, err := Payload(e, Options{APIVersion: version, Now: now, Rand: rand.New(rand.NewPCG(seed, 0))})
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	for _, v := range APIVersions() {
		if a, b := gen(7, v), gen(7, v); a != b {
			t.Errorf("%s: same seed, different payloads:\n%s\n%s", v, a, b)
		}
	}
	if gen(7, DefaultAPIVersion) == gen(8, DefaultAPIVersion) {
		t.Error("different seeds, same payload")
	}
	// One seed gives the same object id in every shape.
	var a, b struct {
		ObjectID string `json:"object_id"`
	}
	_ = json.Unmarshal([]byte(gen(7, "2023-09-01")), &a)
	_ = json.Unmarshal([]byte(gen(7, Legacy)), &b)
	if a.ObjectID == "" || a.ObjectID != b.ObjectID {
		t.Errorf("object ids differ across versions: %q %q", a.ObjectID, b.ObjectID)
	}
	if r1, r2 := gen(0, ""), gen(0, ""); r1 != r2 {
		t.Error("seed 0 is not deterministic")
	}
}

func TestPayloadErrors(t *testing.T) {
	_, err := Payload(Event{ObjectType: "payable", Name: "created"}, Options{APIVersion: "2022-01-01"})
	if !errors.Is(err, ErrUnknownVersion) || !strings.Contains(err.Error(), "2024-05-25, 2024-01-31, 2023-09-01, 2023-06-04, legacy") {
		t.Errorf("unknown version error = %v", err)
	}
	if _, err := Payload(Event{ObjectType: "payable"}, Options{}); err == nil {
		t.Error("event without name accepted")
	}
	// Events outside the catalog still get a payload.
	if b, err := Payload(Event{ObjectType: "invoice", Name: "created"}, Options{}); err != nil || !json.Valid(b) {
		t.Errorf("custom event: %s %v", b, err)
	}
}

func TestDescribe(t *testing.T) {
	tests := map[string]string{
		"counterpart.created":                           "counterpart has been created",
		"counterpart.delete":                            "counterpart has been deleted",
		"comment.update":                                "comment has been updated",
		"counterpart_contact_person.make_default":       "counterpart_contact_person has been made default",
		"payable.created_from_mail":                     "payable has been created from mail",
		"payable.partially_paid":                        "payable partially paid",
		"entity.onboarding_requirements.status_updated": "entity onboarding requirements status updated",
	}
	for a, want := range tests {
		e, err := Lookup(a)
		if err != nil {
			t.Fatal(err)
		}
		if got := describe(e); got != want {
			t.Errorf("describe(%s) = %q, want %q", a, got, want)
		}
	}
}
