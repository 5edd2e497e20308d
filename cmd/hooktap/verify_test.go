package main

import (
	"encoding/json"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hooktap/hooktap/inspector/store"
)

func TestVerify(t *testing.T) {
	cleanEnv(t)
	db := filepath.Join(t.TempDir(), "hooktap.db")
	now := time.Now()
	fresh := storedDelivery(t, db, "", now, now)
	oldButFine := storedDelivery(t, db, "", now.Add(-2*time.Hour), now.Add(-2*time.Hour))
	late := storedDelivery(t, db, "", now.Add(-time.Hour), now)

	// Signed, then re-serialized on the way (as smee does): the stored bytes
	// are not the signed ones.
	compact := []byte(`{"id":"e1","action":"payable.paid","object_type":"payable"}`)
	h := http.Header{}
	h.Set("Monite-Signature", moniteHeader(testSecret, now, compact))
	changed := &store.Delivery{ID: "dlv_changed", ReceivedAt: now, Method: "POST", Header: h, Action: "payable.paid",
		Body: []byte("{\n  \"id\": \"e1\",\n  \"action\": \"payable.paid\",\n  \"object_type\": \"payable\"\n}")}
	changed.Verify(testSecret)
	insertDelivery(t, db, changed, "")
	unsigned := &store.Delivery{ID: "dlv_unsigned", ReceivedAt: now, Method: "POST", Path: "/x", Header: http.Header{}, Body: []byte("{}")}
	insertDelivery(t, db, unsigned, "")

	tests := []struct {
		name   string
		id     string
		secret string
		code   int
		want   []string
	}{
		{"valid", fresh.ID, testSecret, 0, []string{"scheme       monite (secret from --secret)", "as received  valid", "as of now    valid"}},
		{"fresh when it arrived", oldButFine.ID, testSecret, 0, []string{"as received  valid", "as of now    expired: timestamp is 7"}},
		{"too old when it arrived", late.ID, testSecret, 1, []string{"as received  expired: timestamp is 3600s old", "signed at"}},
		{"wrong secret", fresh.ID, "whsec_wrong", 1, []string{"as received  invalid: wrong secret"}},
		{"body changed", "dlv_changed", testSecret, 1, []string{"as received  invalid: body changed after signing"}},
		{"unsigned", "dlv_unsigned", testSecret, 1, []string{"as received  unsigned"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := execCLI(t, "verify", tt.id, "--db", db, "--secret", tt.secret)
			if r.exitCode() != tt.code {
				t.Fatalf("exit %d (%v), want %d\n%s", r.exitCode(), r.err, tt.code, r.stdout)
			}
			for _, w := range tt.want {
				if !strings.Contains(r.stdout, w) {
					t.Errorf("output lacks %q:\n%s", w, r.stdout)
				}
			}
			if tt.code == 1 && !strings.Contains(r.err.Error(), "when it arrived") {
				t.Errorf("error %q does not say why", r.err)
			}
			assertNoSecret(t, r)
		})
	}

	t.Run("json and env secret", func(t *testing.T) {
		t.Setenv("HOOKTAP_SECRET", testSecret)
		r := execCLI(t, "verify", oldButFine.ID, "--db", db, "--json")
		if r.err != nil {
			t.Fatal(r.err)
		}
		var l verifyLine
		if err := json.Unmarshal([]byte(r.stdout), &l); err != nil {
			t.Fatal(err)
		}
		if l.State != "valid" || l.NowState != "expired" || l.SecretFrom != "HOOKTAP_SECRET" || l.Scheme != "monite" ||
			l.SignedAt.Unix() != now.Add(-2*time.Hour).Unix() {
			t.Errorf("json = %+v", l)
		}
		assertNoSecret(t, r)
	})
	t.Run("usage", func(t *testing.T) {
		if r := execCLI(t, "verify", fresh.ID, "--db", db); r.exitCode() != 2 || !strings.Contains(r.err.Error(), "secret") {
			t.Errorf("no secret: exit %d, %v", r.exitCode(), r.err)
		}
		if r := execCLI(t, "verify", "--db", db, "--secret", "s"); r.exitCode() != 2 {
			t.Errorf("no id: exit %d, %v", r.exitCode(), r.err)
		}
		// Not in the store: a runtime failure, as for every command taking an id.
		if r := execCLI(t, "verify", "dlv_nope", "--db", db, "--secret", "s"); r.exitCode() != 1 {
			t.Errorf("unknown id: exit %d, %v", r.exitCode(), r.err)
		}
	})
}
