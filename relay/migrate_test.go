package relay

import (
	"io/fs"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/hooktap/hooktap/relay/sqlitedb"
	"github.com/hooktap/hooktap/relay/wire"
)

// A buffer written by an older relay (migrations up to 0003) opens with
// the current one and keeps its deliveries, in order, and their seqs.
func TestBufferUpgradeKeepsDeliveries(t *testing.T) {
	path := filepath.Join(t.TempDir(), "relay.db")
	old := fstest.MapFS{}
	entries, err := fs.ReadDir(migrationFiles, "migrations")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.Name() < "0004" {
			b, _ := fs.ReadFile(migrationFiles, "migrations/"+e.Name())
			old["migrations/"+e.Name()] = &fstest.MapFile{Data: b}
		}
	}
	db, err := sqlitedb.Open(t.Context(), path, old, sqlitedb.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for seq := 1; seq <= 3; seq++ {
		if _, err := db.W.Exec(`INSERT INTO deliveries(channel, seq, id, received_at, method, path, header, body)
			VALUES ('dev', ?, ?, ?, 'POST', '/x', '{"X-A":["1"]}', 'body')`, seq, "id"+strings.Repeat("x", seq), time.Now().UnixMicro()); err != nil {
			t.Fatal(err)
		}
	}
	db.Close()

	buf, err := OpenBuffer(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer buf.Close()
	ds, _, err := buf.After(t.Context(), "dev", 0, 10, 1<<20)
	if err != nil || len(ds) != 3 {
		t.Fatalf("after upgrade: %d deliveries, %v", len(ds), err)
	}
	for i, d := range ds {
		if d.Seq != int64(i+1) || d.ID != "id"+strings.Repeat("x", i+1) || string(d.Body) != "body" || d.Header.Get("X-A") != "1" {
			t.Fatalf("delivery %d: %+v", i, d)
		}
	}
	// New deliveries go on after the old ones.
	d := &wire.Delivery{ID: "new", Channel: "dev", ReceivedAt: time.Now(), Method: "POST", Header: http.Header{}}
	if err := buf.Append(t.Context(), d, nil); err != nil || d.Seq != 4 {
		t.Fatalf("append after upgrade: seq %d, %v", d.Seq, err)
	}
}

// Channels of a relay from before URL secrets (migrations up to 0004) keep
// their plain URL; a URL secret given later survives a restart.
func TestChannelsUpgradeThenURLSecret(t *testing.T) {
	path := filepath.Join(t.TempDir(), "relay.db")
	old := fstest.MapFS{}
	entries, err := fs.ReadDir(migrationFiles, "migrations")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.Name() < "0005" {
			b, _ := fs.ReadFile(migrationFiles, "migrations/"+e.Name())
			old["migrations/"+e.Name()] = &fstest.MapFile{Data: b}
		}
	}
	db, err := sqlitedb.Open(t.Context(), path, old, sqlitedb.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.W.Exec(`INSERT INTO channels(name, token_hash, created_at, token_set_at) VALUES ('billing', ?, 1, 1)`, strings.Repeat("ab", 32)); err != nil {
		t.Fatal(err)
	}
	db.Close()

	open := func() (*Buffer, *channelRegistry) {
		buf, err := OpenBuffer(t.Context(), path)
		if err != nil {
			t.Fatal(err)
		}
		reg, err := openChannelRegistry(t.Context(), buf)
		if err != nil {
			t.Fatal(err)
		}
		return buf, reg
	}
	buf, reg := open()
	if ok, consumed := reg.Ingress("billing", ""); !ok || consumed || reg.URLSecret("billing") != "" {
		t.Fatalf("after upgrade: ingress %v %v, secret %q", ok, consumed, reg.URLSecret("billing"))
	}
	if err := reg.RotateURL(t.Context(), "billing"); err != nil {
		t.Fatal(err)
	}
	secret := reg.URLSecret("billing")
	buf.Close()

	buf, reg = open()
	defer buf.Close()
	if got := reg.URLSecret("billing"); got == "" || got != secret {
		t.Fatalf("after a restart the secret is %q, want %q", got, secret)
	}
	for given, want := range map[string]bool{secret: true, "": false, secret[:len(secret)-1]: false, secret + "x": false} {
		if ok, consumed := reg.Ingress("billing", given); ok != want || !consumed {
			t.Errorf("Ingress(%q) = %v %v, want %v", given, ok, consumed, want)
		}
	}
	if ok, _ := reg.Ingress("nope", secret); ok {
		t.Error("an unknown channel let a sender in")
	}
}
