package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
)

// TestEntityAndObjectTypeFilters: teammates on one channel each take only
// the events of their own entity (--entity-id) or object type
// (--object-type), filtered at the relay; the filters combine with
// --events; what nobody's filter matches is kept for the next agent whose
// filter does; and the channel page shows each agent's filter.
func TestEntityAndObjectTypeFilters(t *testing.T) {
	_, relayURL := startRelay(t)
	ingress := relayURL + "/h/shared"
	dir := t.TempDir()
	start := func(app *actionApp, extra ...string) {
		p := startProc(t, listenArgs(relayURL, "shared", app.srv.URL, filepath.Join(dir, app.name+".db"), extra...)...)
		p.line(t, `"type":"ready"`)
	}
	alice, bob, carol := newActionApp(t, "alice"), newActionApp(t, "bob"), newActionApp(t, "carol")
	start(alice, "--entity-id", "ent_a", "--entity-id", "ent_x")
	start(bob, "--object-type", "counterpart", "--events", "*.created")

	send := func(id, action, entity string) int {
		t.Helper()
		body := fmt.Sprintf(`{"id":%q,"action":%q,"object_type":%q,"entity_id":%q,"object":{"id":"o"}}`,
			id, action, strings.Split(action, ".")[0], entity)
		resp, err := http.Post(ingress, "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	want := map[string]int{
		"p_a": 200, // alice's entity
		"c_a": 200, // alice's entity, and bob's object type and event
		"c_b": 200, // bob's
		"u_b": 202, // a counterpart of ent_b, but not created: nobody's
		"p_b": 202, // nobody's: kept
	}
	for _, ev := range []struct{ id, action, entity string }{
		{"p_a", "payable.created", "ent_a"},
		{"c_a", "counterpart.created", "ent_a"},
		{"c_b", "counterpart.created", "ent_b"},
		{"u_b", "counterpart.updated", "ent_b"},
		{"p_b", "payable.created", "ent_b"},
	} {
		if got := send(ev.id, ev.action, ev.entity); got != want[ev.id] {
			t.Errorf("%s: answered %d, want %d", ev.id, got, want[ev.id])
		}
	}
	alice.waitEvents(t, "p_a", "c_a")
	bob.waitEvents(t, "c_a", "c_b")

	// The channel page shows the filters.
	resp, err := http.Get(relayURL + "/c/shared/feed.json")
	if err != nil {
		t.Fatal(err)
	}
	var feed struct {
		Agents []struct {
			Events      []string `json:"events"`
			ObjectTypes []string `json:"object_types"`
			EntityIDs   []string `json:"entity_ids"`
		} `json:"agents"`
	}
	json.NewDecoder(resp.Body).Decode(&feed)
	resp.Body.Close()
	page := fmt.Sprint(feed.Agents)
	if len(feed.Agents) != 2 || !strings.Contains(page, "[ent_a ent_x]") || !strings.Contains(page, "[*.created] [counterpart]") {
		t.Errorf("channel page agents = %v", page)
	}

	// Carol works on ent_b: she gets what was kept for her, and only that.
	start(carol, "--entity-id", "ent_b")
	carol.waitEvents(t, "u_b", "p_b")
	if got := send("p_b2", "payable.created", "ent_b"); got != 200 {
		t.Errorf("p_b2 with carol connected: %d", got)
	}
	carol.waitEvents(t, "u_b", "p_b", "p_b2")
	alice.waitEvents(t, "p_a", "c_a")
}

func TestFilterFlagErrors(t *testing.T) {
	for _, args := range [][]string{
		{"--entity-id", ""},
		{"--object-type", ","},
		{"--entity-id", strings.Repeat("e", 129)},
	} {
		_, stderr, code := hooktapOut(t, nil, append([]string{"listen", "--relay", "http://127.0.0.1:1", "--channel", "c",
			"--forward-to", "http://localhost:1"}, args...)...)
		if code != 2 {
			t.Errorf("%q: exit %d, %q", args, code, stderr)
		}
	}
}
