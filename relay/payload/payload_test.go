package payload

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

var cases = []struct {
	name   string
	header http.Header
	body   string
	want   Fields
}{
	{"monite 2024", nil, `{"id":"e1","created_at":"2024-06-01T00:00:00Z","action":"payable.created","api_version":"2024-05-25","entity_id":"ent","object":{"id":"obj"},"object_type":"payable","webhook_subscription_id":"s"}`,
		Fields{ObjectType: "payable", Action: "payable.created", EntityID: "ent", ObjectID: "obj", EventID: "e1"}},
	{"monite 2023", nil, `{"id":"e2","action":"counterpart.delete","entity_id":"ent","object_id":"o2","object_type":"counterpart"}`,
		Fields{ObjectType: "counterpart", Action: "counterpart.delete", EntityID: "ent", ObjectID: "o2", EventID: "e2"}},
	{"legacy without entity", nil, `{"object_id":"o3","object_type":"entity","action":"update","name":"My webhook"}`,
		Fields{ObjectType: "entity", Action: "update", ObjectID: "o3"}},
	{"no object_type", nil, `{"action":"entity.onboarding_requirements.updated"}`,
		Fields{ObjectType: "entity", Action: "entity.onboarding_requirements.updated"}},
	{"monk", http.Header{"X-Monk-Event": {"invoice.created"}, "X-Monk-Delivery-Id": {"dl_1"}}, `{"id":"inv_1","createdAt":"x"}`,
		Fields{ObjectType: "invoice", Action: "invoice.created", ObjectID: "inv_1", EventID: "dl_1"}},
	{"numbers ignored", nil, `{"id":12,"action":"tag.created","entity_id":{"x":1}}`, Fields{ObjectType: "tag", Action: "tag.created"}},
	{"not json", nil, `hello=world`, Fields{}},
	{"broken json", nil, `{"action":"tag.deleted","object_type":`, Fields{}},
	{"array", nil, `[1,2]`, Fields{}},
	{"empty", nil, ``, Fields{}},
}

func TestParse(t *testing.T) {
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := c.header
			if h == nil {
				h = http.Header{}
			}
			if got := Parse(h, []byte(c.body)); got != c.want {
				t.Errorf("Parse = %+v, want %+v", got, c.want)
			}
		})
	}
}

func FuzzParse(f *testing.F) {
	for _, c := range cases {
		f.Add(c.body, "")
	}
	f.Add(`{"action":"a.b"}`, "invoice.created")
	f.Fuzz(func(t *testing.T, body, monk string) {
		h := http.Header{}
		if monk != "" {
			h.Set("X-Monk-Event", monk)
		}
		f := Parse(h, []byte(body))
		for _, s := range []string{f.Action, f.ObjectType, f.EntityID, f.ObjectID, f.EventID} {
			if len(s) > maxField {
				t.Fatalf("field longer than %d: %d", maxField, len(s))
			}
		}
	})
}

// A sender picks the fields' bytes: what hooktap keeps of them has no
// control characters (escape sequences for a developer's terminal), is
// UTF-8, and is cut at a character boundary.
func TestFieldsAreClean(t *testing.T) {
	body := []byte(`{"action":"payable.\u001b]52;c;Y3Vy\u0007created","entity_id":"` + strings.Repeat("é", 200) + `","object":{"id":"a\u009bb"}}`)
	f := Parse(http.Header{"X-Monk-Delivery-Id": {"id\x1b[2K"}}, body)
	for _, v := range []string{f.Action, f.EntityID, f.ObjectID, f.EventID} {
		if !utf8.ValidString(v) || strings.ContainsFunc(v, unicode.IsControl) || len(v) > maxField {
			t.Errorf("field %q", v)
		}
	}
	if f.Action != "payable.\uFFFD]52;c;Y3Vy\uFFFDcreated" {
		t.Errorf("action %q", f.Action)
	}
}

// A JSON string decodes to the same flexString as encoding/json decodes it
// to a string, whether it takes the fast path (no escapes, valid UTF-8) or
// not: escapes, invalid UTF-8 (each bad byte becomes U+FFFD), surrogates.
func FuzzFlexStringDecodesAsJSON(f *testing.F) {
	for _, s := range []string{`""`, `"payable.created"`, `"caf\u00e9"`, "\"caf\xc3\xa9\"", "\"caf\xe9 \xff\"",
		`"a\"b"`, `"\ud83d\ude00"`, `"\ud800"`, `"tab\there"`, `"\\"`, "\"\xed\xa0\x80\"", `12`, `null`, `{"a":1}`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		var want string
		if json.Unmarshal([]byte(raw), &want) != nil {
			return // not a JSON string: json.Unmarshal never hands it to flexString
		}
		var got flexString
		if err := json.Unmarshal([]byte(raw), &got); err != nil {
			t.Fatal(err)
		}
		if string(got) != want {
			t.Fatalf("%q decoded to %q, want %q", raw, got, want)
		}
	})
}
