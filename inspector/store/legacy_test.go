package store

import (
	"strings"
	"testing"
)

// A legacy record is known by its "header" (or "header_base64") as well
// as by its list of attempts: one without "attempts" (a hand-made file, or
// one trimmed with jq) or with "attempts": null keeps its headers on import,
// as the importer of the legacy shape did.
func TestReadRecordsLegacyWithoutAttempts(t *testing.T) {
	base := `{"id":"dlv_old","received_at":"2026-11-01T12:00:00Z","method":"POST","path":"/x",` +
		`"header":{"X-A":["1"]},"header_base64":{"X-Raw":["/w=="]},"body":"hi","object_type":"","action":"","entity_id":"","object_id":"","signature":"unsigned"`
	for name, line := range map[string]string{
		"no attempts":   base + `}`,
		"null attempts": base + `,"attempts":null}`,
	} {
		var got []*Delivery
		if err := ReadRecords(strings.NewReader(line), func(d *Delivery) error { got = append(got, d); return nil }); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if len(got) != 1 {
			t.Fatalf("%s: read %d records", name, len(got))
		}
		if d := got[0]; d.Header.Get("X-A") != "1" || d.Header.Get("X-Raw") != "\xff" || string(d.Body) != "hi" {
			t.Errorf("%s: header %q, body %q", name, d.Header, d.Body)
		}
	}
}

// What `events show --json` printed before the one record ("header", a
// count in "attempts", a "history" of legacy attempts) is not an export:
// import refuses it, as it did then, rather than storing it without its
// headers, bodies and durations.
func TestReadRecordsRefusesOldShowJSON(t *testing.T) {
	line := `{"id":"dlv_old","received_at":"2026-11-01T12:00:00Z","method":"POST","path":"/x","attempts":1,` +
		`"header":{"X-A":["1"]},"body":"hi","signature":"unsigned","history":[{"kind":"forward","target":"http://app",` +
		`"started_at":"2026-11-01T12:00:00Z","duration_us":1000,"status":200,"header":{"Y":["z"]},"body":"ok"}]}`
	err := ReadRecords(strings.NewReader(line), func(d *Delivery) error {
		t.Errorf("read as a delivery with header %q and %d attempts", d.Header, len(d.History))
		return nil
	})
	if err == nil || strings.Contains(err.Error(), "\n") {
		t.Errorf("err = %v, want one line", err)
	}
}
