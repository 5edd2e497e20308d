package store

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

// TestExportImportQueryBytes: the relay passes a raw query as it came
// (RawQuery), bytes that are not UTF-8 included; the store keeps them and
// replay sends them. Export, hooktap's "lossless format", writes the query
// as a JSON string, and those bytes become U+FFFD: after export and import,
// a replay sends a=caf\xef\xbf\xbd\xef\xbf\xbd instead of a=caf\xe9\xff
// (seen with the real binaries and a raw-socket server). The attempt's
// target changes the same way, so importing an export back into its own
// store adds every such attempt a second time.
func TestExportImportQueryBytes(t *testing.T) {
	ctx := t.Context()
	const query = "a=caf\xe9\xff&b=%ff"
	src := openTestStore(t)
	d := &Delivery{ID: "dlv_rawq", ReceivedAt: storeBase, Method: "POST", Path: "/p", Query: query, Body: []byte("{}"),
		History: []*Attempt{{DeliveryID: "dlv_rawq", Kind: KindForward, Target: "http://app/p?" + query, StartedAt: storeBase,
			Duration: time.Millisecond, Status: 200}}}
	if _, err := src.Import(ctx, []*Delivery{d}); err != nil {
		t.Fatal(err)
	}
	if got, err := src.Get(ctx, d.ID); err != nil || got.Query != query {
		t.Fatalf("the store itself: %q %v", got.Query, err)
	}
	var buf bytes.Buffer
	if _, err := src.Export(ctx, &buf, Query{}); err != nil {
		t.Fatal(err)
	}
	var ds []*Delivery
	if err := ReadRecords(strings.NewReader(buf.String()), func(d *Delivery) error { ds = append(ds, d); return nil }); err != nil {
		t.Fatal(err)
	}
	dst := openTestStore(t)
	if _, err := dst.Import(ctx, ds); err != nil {
		t.Fatal(err)
	}
	got, err := dst.Get(ctx, d.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Query != query {
		t.Errorf("query after export and import: %q, want %q", got.Query, query)
	}
	if a := got.History[0]; a.Target != d.History[0].Target {
		t.Errorf("attempt target after export and import: %q, want %q", a.Target, d.History[0].Target)
	}
	// Import is idempotent by id, and an attempt with the same kind, target
	// and start is not added twice: importing the export back into the
	// store it came from must add nothing.
	if _, err := src.Import(ctx, ds); err != nil {
		t.Fatal(err)
	}
	if again, err := src.Get(ctx, d.ID); err != nil || len(again.History) != 1 {
		t.Errorf("the export imported back into its own store: %d attempts (%v), want 1", len(again.History), err)
	}
}
