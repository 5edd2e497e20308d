package store

import (
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
