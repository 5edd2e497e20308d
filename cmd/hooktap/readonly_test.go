package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hooktap/hooktap/inspector/store"
)

// onReadOnlyDisk runs hooktap with dir mounted read-only for it alone: a
// read-only bind mount in a mount namespace of its own (unshare -rm), which
// stops root too, as a read-only disk does; chmod would not.
func onReadOnlyDisk(t *testing.T, dir string, args ...string) (string, string, int) {
	t.Helper()
	const script = `mount --bind "$1" "$1" && mount -o remount,bind,ro "$1" && shift && exec "$@"`
	cmd := exec.Command("unshare", append([]string{"-rm", "sh", "-c", script, "sh", dir, hooktapBin(t)}, args...)...)
	cmd.Env = append(os.Environ(), hooktapTestEnv(t)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("unshare: %v", err)
	}
	return stdout.String(), stderr.String(), code
}

func TestReadOnlyStore(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "ci.db")
	s, err := store.Open(t.Context(), db)
	if err != nil {
		t.Fatal(err)
	}
	d := &store.Delivery{ID: "ro000001", Channel: "dev", ReceivedAt: time.Now(), Method: "POST", Path: "/billing",
		Action: "payable.created", Body: []byte(`{"memo":"office chairs"}`)}
	if err := store.Wait(t.Context(), s.Insert(d)); err != nil {
		t.Fatal(err)
	}
	if err := s.IndexNow(t.Context()); err != nil {
		t.Fatal(err)
	}
	s.Close()
	// The mount really is read-only for hooktap.
	if _, _, code := onReadOnlyDisk(t, dir, "events", "import", "--db", db, "/dev/null"); code == 0 {
		t.Fatal("events import wrote to the read-only mount")
	}

	// Reading works.
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"events", "list", "--db", db}, "ro000001"},
		{[]string{"events", "list", "--db", db, "--search", "chairs"}, "ro000001"},
		{[]string{"events", "show", "--db", db, "ro00"}, "POST /billing"},
		{[]string{"events", "export", "--db", db}, `"id":"ro000001"`},
	} {
		out, errOut, code := onReadOnlyDisk(t, dir, c.args...)
		if code != 0 || !strings.Contains(out, c.want) {
			t.Errorf("%v on a read-only disk: exit %d, stdout %q, stderr %q", c.args, code, out, errOut)
		}
	}
	// Writing says why it cannot, in one line.
	_, errOut, code := onReadOnlyDisk(t, dir, "dev", "--db", db, "--forward-to", "http://127.0.0.1:1/hooks", "--no-tui", "--no-web",
		"--addr", "127.0.0.1:0", "--data", t.TempDir(), "--provider-data", t.TempDir())
	if want := "hooktap: open store: open " + db + ": read-only file system\n"; code != 1 || errOut != want {
		t.Errorf("dev on a read-only store: exit %d, stderr %q, want %q", code, errOut, want)
	}
	// Nothing was left beside the store.
	if entries, _ := os.ReadDir(dir); len(entries) != 2 {
		t.Errorf("the directory holds %d files", len(entries))
	}

	// With a writer on the store (from a read-write mount), its -wal and
	// -shm files are there: what the -wal holds is read too.
	s, err = store.Open(t.Context(), db)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	d.ID = "ro000002"
	if err := store.Wait(t.Context(), s.Insert(d)); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(db + "-wal"); err != nil {
		t.Fatal(err)
	}
	out, errOut, code := onReadOnlyDisk(t, dir, "events", "list", "--db", db)
	if code != 0 || !strings.Contains(out, "ro000001") || !strings.Contains(out, "ro000002") {
		t.Errorf("events list of a store in use on a read-only mount: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
}
