package store

import (
	"strings"
	"testing"
	"time"
)

func TestParseFilter(t *testing.T) {
	now := time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)
	cases := []struct {
		in      string
		want    Query
		wantErr bool
	}{
		{"", Query{}, false},
		{"type:payable", Query{ObjectType: "payable"}, false},
		{"action:payable.* status:5xx", Query{Action: "payable.*", Status: mustStatus("5xx")}, false},
		{"entity:ent_1 invoice 42", Query{EntityID: "ent_1", Search: "invoice 42"}, false},
		{"since:15m", Query{Since: now.Add(-15 * time.Minute)}, false},
		{"since:2d", Query{Since: now.Add(-48 * time.Hour)}, false},
		{"http://x/y", Query{Search: "http://x/y"}, false},
		{"status:abc", Query{}, true},
		{"since:yesterday", Query{}, true},
	}
	for _, c := range cases {
		t.Run(c.in, func(t *testing.T) {
			got, err := ParseFilter(c.in, now)
			if (err != nil) != c.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, c.wantErr)
			}
			if !c.wantErr && got != c.want {
				t.Errorf("got %+v, want %+v", got, c.want)
			}
		})
	}
}

func TestParseAge(t *testing.T) {
	good := map[string]time.Duration{"30d": 30 * 24 * time.Hour, "2w": 14 * 24 * time.Hour, "12h": 12 * time.Hour, "90m": 90 * time.Minute, " 15m ": 15 * time.Minute}
	for in, want := range good {
		if got, err := ParseAge(in); err != nil || got != want {
			t.Errorf("ParseAge(%q) = %v, %v", in, got, err)
		}
		now := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
		if got, err := ParseSince(in, now); err != nil || !got.Equal(now.Add(-want)) {
			t.Errorf("ParseSince(%q) = %v, %v", in, got, err)
		}
	}
	for _, in := range []string{"", "d", "-3d", "0d", "soon", "1y", "-1h", "99999999999w"} {
		if _, err := ParseAge(in); err == nil {
			t.Errorf("ParseAge(%q): no error", in)
		}
	}
}

// TestFilterHint: a term that looks like a mistyped key is searched as
// text (it matches nothing a user meant); the hint says which key was
// meant. Known keys, free text with colons and URLs get none.
func TestFilterHint(t *testing.T) {
	for _, tt := range []struct{ filter, want string }{
		{"stauts:5xx", `"stauts:5xx" is searched as text: did you mean status:5xx? (keys: type, action, status, entity, since)`},
		{"acton:payable.*", `did you mean action:payable.*?`},
		{"tpye:payable some text", `did you mean type:payable?`},
		{"Entty-ID:ent_1", `did you mean entity_id:ent_1?`},
		{"status:5xx type:payable", ""},
		{"Object-Type:payable", ""},
		{"http://localhost:3000 a:b 12:30 foo:bar", ""},
		{"stauts:", ""},
	} {
		got := FilterHint(tt.filter)
		if tt.want == "" && got != "" || tt.want != "" && !strings.Contains(got, tt.want) {
			t.Errorf("FilterHint(%q) = %q, want %q", tt.filter, got, tt.want)
		}
	}
}
