package main

import (
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hooktap/hooktap/inspector/store"
)

// harIDs reads a HAR log's entries: their deliveries in order, and every
// request's httpVersion.
func harIDs(t *testing.T, har []byte) (ids, versions []string) {
	t.Helper()
	var doc struct {
		Log struct {
			Entries []struct {
				ID      string `json:"_deliveryId"`
				Request struct {
					HTTPVersion string `json:"httpVersion"`
				} `json:"request"`
			} `json:"entries"`
		} `json:"log"`
	}
	if err := json.Unmarshal(har, &doc); err != nil {
		t.Fatalf("not a HAR log: %v\n%s", err, har)
	}
	for _, e := range doc.Log.Entries {
		ids = append(ids, e.ID)
		versions = append(versions, e.Request.HTTPVersion)
	}
	return ids, versions
}

// TestExportCLIAndAPIAgree runs the real binary: `events export --limit 3`
// and the web inspector's /api/export?limit=3 give the same deliveries in
// the same order (the newest 3, oldest first), in both formats; HAR
// requests say HTTP/1.1; and a HAR file given to `events import` is
// refused in one line with exit 2.
func TestExportCLIAndAPIAgree(t *testing.T) {
	db := evStore(t)
	// The newest delivery came over https, as a relay behind TLS records it.
	st, err := store.Open(t.Context(), db)
	if err != nil {
		t.Fatal(err)
	}
	d := &store.Delivery{ID: "dddd1111", Channel: "dev", ReceivedAt: time.Now().UTC(), Method: "POST", Proto: "https",
		Header: http.Header{"Content-Type": {"application/json"}}, Body: []byte(`{"action":"payable.paid"}`)}
	err = store.Wait(t.Context(), st.Insert(d))
	st.Close()
	if err != nil {
		t.Fatal(err)
	}
	web := startProc(t, "web", "--db", db, "--addr", "127.0.0.1:0")
	base := strings.TrimSpace(strings.TrimPrefix(web.line(t, "Web inspector"), "Web inspector"))
	api := func(query string) []byte {
		resp, err := http.Get(base + "/api/export?" + query)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 {
			t.Fatalf("%s: %d %s", query, resp.StatusCode, b)
		}
		return b
	}
	cli := func(args ...string) []byte {
		out, errOut, code := hooktapOut(t, nil, append([]string{"events", "export", "--db", db}, args...)...)
		if code != 0 {
			t.Fatalf("events export %v: exit %d: %s", args, code, errOut)
		}
		return []byte(out)
	}
	want := []string{"bbbb2222", "cccc1111", "dddd1111"}

	cliHAR, apiHAR := cli("--format", "har", "--limit", "3"), api("format=har&limit=3")
	cliIDs, versions := harIDs(t, cliHAR)
	apiIDs, _ := harIDs(t, apiHAR)
	if !slices.Equal(cliIDs, want) || !slices.Equal(apiIDs, want) {
		t.Errorf("HAR entries: CLI %v, API %v, want %v", cliIDs, apiIDs, want)
	}
	for _, v := range versions {
		if v != "HTTP/1.1" {
			t.Errorf("request httpVersion %q, want HTTP/1.1", v)
		}
	}
	cliJSON, apiJSON := cli("--limit", "3"), api("format=json&limit=3")
	if ids := jsonIDs(t, string(cliJSON)); !slices.Equal(ids, want) {
		t.Errorf("CLI JSON lines: %v, want %v", ids, want)
	}
	if ids := jsonIDs(t, string(apiJSON)); !slices.Equal(ids, want) {
		t.Errorf("API JSON lines: %v, want %v", ids, want)
	}

	file := filepath.Join(t.TempDir(), "export.har")
	if err := os.WriteFile(file, cliHAR, 0o600); err != nil {
		t.Fatal(err)
	}
	copyDB := filepath.Join(t.TempDir(), "copy.db")
	out, errOut, code := hooktapOut(t, nil, "events", "import", "--db", copyDB, file)
	if code != 2 || out != "" || strings.Count(strings.TrimSpace(errOut), "\n") != 0 ||
		!strings.Contains(errOut, "this is a HAR file; hooktap imports its own JSON lines") {
		t.Errorf("import of a HAR file: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	if _, err := os.Stat(copyDB); !os.IsNotExist(err) {
		t.Errorf("the refused import created the store")
	}
}
