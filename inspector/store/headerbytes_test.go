package store

import (
	"bytes"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// rawValue is a header value that is not UTF-8 (Latin-1 "café", a lone
// 0xff): HTTP allows such bytes, JSON cannot hold them.
const rawValue = "caf\xe9 \xff"

func rawHeader() http.Header {
	return http.Header{"Content-Type": {"application/json"}, "X-Name": {rawValue, "plain"}}
}

// Every way a header enters the store keeps its bytes: deliveries by
// Insert, Record and Import, and attempts' request and response headers.
// All-UTF-8 headers write no raw copy.
func TestStoreKeepsHeaderBytes(t *testing.T) {
	ctx := t.Context()
	s := openTestStore(t)
	attempt := func(id string) *Attempt {
		return &Attempt{DeliveryID: id, Kind: KindResend, Target: "http://app", StartedAt: storeBase, Status: 200,
			RequestHeader: rawHeader(), Header: http.Header{"X-App": {"\xfe ok"}}}
	}
	inserted := &Delivery{ID: "dlv_insert", ReceivedAt: storeBase, Method: "POST", Header: rawHeader()}
	if err := Wait(ctx, s.Insert(inserted)); err != nil {
		t.Fatal(err)
	}
	if err := Wait(ctx, s.AddAttempt(attempt("dlv_insert"))); err != nil {
		t.Fatal(err)
	}
	recorded := &Delivery{ID: "dlv_record", ReceivedAt: storeBase, Method: "POST", Header: rawHeader()}
	if err := Wait(ctx, s.Record(recorded, attempt("dlv_record"))); err != nil {
		t.Fatal(err)
	}
	imported := &Delivery{ID: "dlv_import", ReceivedAt: storeBase, Method: "POST", Header: rawHeader(),
		History: []*Attempt{attempt("dlv_import")}}
	if _, err := s.Import(ctx, []*Delivery{imported}); err != nil {
		t.Fatal(err)
	}
	// UTF-8, with a U+FFFD sent as such and one as text: no raw copy.
	plain := &Delivery{ID: "dlv_plain", ReceivedAt: storeBase, Method: "POST",
		Header: http.Header{"X-Name": {"café \ufffd"}, "X-Text": {`\ufffd`}}}
	if err := Wait(ctx, s.Record(plain, &Attempt{DeliveryID: "dlv_plain", Kind: KindForward, Target: "http://app",
		StartedAt: storeBase, Status: 200, Header: http.Header{"X-App": {"ok"}}})); err != nil {
		t.Fatal(err)
	}

	check := func(d *Delivery) {
		t.Helper()
		want := rawHeader()
		if d.ID == "dlv_plain" {
			want = plain.Header
		}
		if !reflect.DeepEqual(d.Header, want) {
			t.Errorf("%s: header %q, want %q", d.ID, d.Header, want)
		}
		if d.ID == "dlv_plain" {
			return
		}
		if len(d.History) != 1 {
			t.Fatalf("%s: %d attempts", d.ID, len(d.History))
		}
		a := d.History[0]
		if !reflect.DeepEqual(a.RequestHeader, rawHeader()) || a.Header.Get("X-App") != "\xfe ok" {
			t.Errorf("%s attempt: request header %q, response header %q", d.ID, a.RequestHeader, a.Header)
		}
	}
	for _, id := range []string{"dlv_insert", "dlv_record", "dlv_import", "dlv_plain"} {
		d, err := s.Get(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		check(d)
	}
	n := 0
	if err := s.Each(ctx, Query{}, func(d *Delivery) error { n++; check(d); return nil }); err != nil || n != 4 {
		t.Fatalf("Each: %d deliveries, %v", n, err)
	}
	var raws, plainRaws int
	if err := s.db.R.QueryRowContext(ctx, `SELECT
		(SELECT COUNT(*) FROM deliveries WHERE header_raw IS NOT NULL),
		(SELECT COUNT(*) FROM deliveries d JOIN attempts a ON a.delivery_seq = d.seq
			WHERE d.id = 'dlv_plain' AND (d.header_raw IS NOT NULL OR a.request_header_raw IS NOT NULL OR a.response_header_raw IS NOT NULL))`).
		Scan(&raws, &plainRaws); err != nil || raws != 3 || plainRaws != 0 {
		t.Errorf("raw copies: %d deliveries (want 3), %d for the UTF-8 one (want 0), %v", raws, plainRaws, err)
	}
}

// The full-text index reads the JSON header: a delivery whose header has
// bytes that are not UTF-8 is still found by the words of its headers.
func TestSearchFindsHeaderWithRawBytes(t *testing.T) {
	ctx := t.Context()
	s := openTestStore(t)
	d := &Delivery{ID: "dlv_raw", ReceivedAt: storeBase, Method: "POST",
		Header: http.Header{"X-Name": {"caf\xe9 blueberry \xff"}, "X-Tag": {"raspberry"}}}
	if err := Wait(ctx, s.Insert(d)); err != nil {
		t.Fatal(err)
	}
	for _, word := range []string{"blueberry", "raspberry"} {
		got, err := s.List(ctx, Query{Search: word})
		if err != nil || !slices.Equal(ids(got), []string{"dlv_raw"}) {
			t.Errorf("search %q: %v, %v", word, ids(got), err)
		}
	}
}

// Export writes header values that are not UTF-8 in base64 under
// headers_base64 (the line stays valid UTF-8), and import restores the
// bytes, from records of either shape (Record, and legacyRecord from
// exports made before).
func TestExportImportHeaderBytes(t *testing.T) {
	ctx := t.Context()
	src := openTestStore(t)
	d := &Delivery{ID: "dlv_raw", ReceivedAt: storeBase, Method: "POST", Header: rawHeader(), Body: []byte("{}"),
		History: []*Attempt{{DeliveryID: "dlv_raw", Kind: KindResend, Target: "http://app", StartedAt: storeBase,
			Duration: time.Millisecond, Status: 200, RequestHeader: http.Header{"X-Name": {rawValue}},
			Header: http.Header{"X-App": {"\xfe"}, "X-Ok": {"yes"}}}}}
	if _, err := src.Import(ctx, []*Delivery{d}); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if _, err := src.Export(ctx, &buf, Query{}); err != nil {
		t.Fatal(err)
	}
	line := buf.String()
	for _, want := range []string{`"headers":{"Content-Type":["application/json"]},"headers_base64":{"X-Name":["Y2Fm6SD/","cGxhaW4="]}`,
		`"request":{"headers":{},"headers_base64":{"X-Name":["Y2Fm6SD/"]}`, `"response":{"headers":{"X-Ok":["yes"]},"headers_base64":{"X-App":["/g=="]}`} {
		if !strings.Contains(line, want) {
			t.Errorf("export lacks %s:\n%s", want, line)
		}
	}
	if !utf8.ValidString(line) || strings.Contains(line, "\ufffd") {
		t.Errorf("export is not clean UTF-8: %q", line)
	}
	var ds []*Delivery
	if err := ReadRecords(strings.NewReader(line), func(d *Delivery) error { ds = append(ds, d); return nil }); err != nil {
		t.Fatal(err)
	}
	dst := openTestStore(t)
	if _, err := dst.Import(ctx, ds); err != nil {
		t.Fatal(err)
	}
	got, err := dst.Get(ctx, "dlv_raw")
	if err != nil {
		t.Fatal(err)
	}
	a := got.History[0]
	if !reflect.DeepEqual(got.Header, rawHeader()) || a.RequestHeader.Get("X-Name") != rawValue ||
		!reflect.DeepEqual(a.Header, d.History[0].Header) {
		t.Errorf("after the round trip: header %q, request header %q, response header %q", got.Header, a.RequestHeader, a.Header)
	}
	var again bytes.Buffer
	if _, err := dst.Export(ctx, &again, Query{}); err != nil || again.String() != line {
		t.Errorf("re-export differs (%v):\n%s\n---\n%s", err, again.String(), line)
	}

	legacy := `{"id":"dlv_raw","received_at":"2026-11-01T12:00:00Z","method":"POST","path":"","header":{"Content-Type":["application/json"]},` +
		`"header_base64":{"X-Name":["Y2Fm6SD/","cGxhaW4="]},"body":"{}","object_type":"","action":"","entity_id":"","object_id":"","signature":"unsigned",` +
		`"attempts":[{"kind":"resend","target":"http://app","started_at":"2026-11-01T12:00:00Z","duration_us":1000,"request_header":{},` +
		`"request_header_base64":{"X-Name":["Y2Fm6SD/"]},"status":200,"header":{"X-Ok":["yes"]},"header_base64":{"X-App":["/g=="]}}]}`
	var old []*Delivery
	if err := ReadRecords(strings.NewReader(legacy), func(d *Delivery) error { old = append(old, d); return nil }); err != nil {
		t.Fatal(err)
	}
	fromOld := openTestStore(t)
	if _, err := fromOld.Import(ctx, old); err != nil {
		t.Fatal(err)
	}
	var oldOut bytes.Buffer
	if _, err := fromOld.Export(ctx, &oldOut, Query{}); err != nil || oldOut.String() != line {
		t.Errorf("a legacy record imported and exported again differs (%v):\n%s\n---\n%s", err, oldOut.String(), line)
	}

	for name, in := range map[string]string{
		"bad base64":        `{"id":"x","method":"POST","received_at":"2026-01-01T00:00:00Z","headers":{},"headers_base64":{"X-A":["!!"]}}`,
		"both forms":        `{"id":"x","method":"POST","received_at":"2026-01-01T00:00:00Z","headers":{"X-A":["a"]},"headers_base64":{"X-A":["YQ=="]}}`,
		"legacy bad base64": `{"id":"x","method":"POST","received_at":"2026-01-01T00:00:00Z","header":{},"header_base64":{"X-A":["!!"]},"attempts":[]}`,
		"legacy both forms": `{"id":"x","method":"POST","received_at":"2026-01-01T00:00:00Z","header":{"X-A":["a"]},"header_base64":{"X-A":["YQ=="]},"attempts":[]}`,
	} {
		err := ReadRecords(strings.NewReader(in), func(*Delivery) error { return nil })
		if err == nil || !strings.Contains(err.Error(), `"X-A"`) {
			t.Errorf("%s: err = %v", name, err)
		}
	}
}
