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
		{"action:payable.* status:5xx", Query{Action: "payable.*", Status: "5xx"}, false},
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
