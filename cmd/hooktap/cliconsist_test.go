package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hooktap/hooktap/inspector/store"
)

// importLines is n records of hooktap's export format, one a line.
func importLines(from, n int) []byte {
	var b bytes.Buffer
	for i := from; i < from+n; i++ {
		fmt.Fprintf(&b, `{"id":"imp%05d","channel":"dev","received_at":"2026-01-01T00:00:00Z","method":"POST","path":"/","body":"{}"}`+"\n", i)
	}
	return b.Bytes()
}

// storeCount is how many deliveries the store at db holds (0 while it is
// not there yet).
func storeCount(t *testing.T, db string) int64 {
	t.Helper()
	if _, err := os.Stat(db); err != nil {
		return 0
	}
	s, err := store.OpenReadOnly(t.Context(), db)
	if err != nil {
		return 0
	}
	defer s.Close()
	n, _ := s.Count(t.Context())
	return n
}

// TestImportInterruptedSaysHowFar: ctrl-C during the write of an import
// says how many lines were committed, of how many, and that running it
// again finishes it. The file is a FIFO, so that the test holds the import
// at a known point: it reads the whole file once (the check), then the
// first 2,000 lines, which it commits, and waits for more.
func TestImportInterruptedSaysHowFar(t *testing.T) {
	dir := t.TempDir()
	fifo, db := filepath.Join(dir, "export.jsonl"), filepath.Join(dir, "imported.db")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(hooktapBin(t), "events", "import", "--db", db, fifo)
	cmd.Env = append(os.Environ(), hooktapTestEnv(t)...)
	var buf bytes.Buffer
	lw := &lockedWriter{w: &buf}
	cmd.Stderr = lw
	stderr := func() string { lw.mu.Lock(); defer lw.mu.Unlock(); return buf.String() }
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	t.Cleanup(func() { cmd.Process.Kill() })

	// The check reads it all: 3,000 lines.
	w, err := os.OpenFile(fifo, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	w.Write(importLines(0, 3000))
	w.Close()
	// The write: 2,000 lines, then the pipe stays open. The store is
	// created after the check has closed the file, so that these lines
	// go to the second reading, not the end of the first.
	deadline := time.Now().Add(20 * time.Second)
	for {
		if _, err := os.Stat(db); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the import never created its store; stderr: %s", stderr())
		}
		time.Sleep(10 * time.Millisecond) // polling the file system: no signal to wait for
	}
	if w, err = os.OpenFile(fifo, os.O_WRONLY, 0); err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	w.Write(importLines(0, 2000))
	for storeCount(t, db) < 2000 {
		if time.Now().After(deadline) {
			t.Fatalf("the import never committed 2,000 lines; stderr: %s", stderr())
		}
		time.Sleep(20 * time.Millisecond) // polling the store: no signal to wait for
	}
	cmd.Process.Signal(syscall.SIGINT)
	// The import waits for its next line: hand it lines one at a time
	// until it stops (the signal comes in on its own time, so it may take
	// a few of them first). Closing the pipe would end the file instead.
	var stopped bool
	for i := 2000; i < 3000 && !stopped; i++ {
		w.Write(importLines(i, 1))
		select {
		case err = <-done:
			stopped = true
		case <-time.After(100 * time.Millisecond):
		}
	}
	if !stopped {
		t.Fatalf("import did not stop on SIGINT; stderr: %s", stderr())
	}
	w.Close()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	}
	n := storeCount(t, db)
	want := fmt.Sprintf("hooktap: interrupted after %s of 3,000 lines: %s deliveries imported (import the file again to finish; ids already there are skipped)\n", commas(n), commas(n))
	if code != 130 || stderr() != want || n < 2000 {
		t.Errorf("interrupted import: exit %d, stderr %q, %d in the store; want 130, %q", code, stderr(), n, want)
	}
}

// commas writes n as the CLI does: 2,000.
func commas(n int64) string {
	s := strconv.FormatInt(n, 10)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

// TestImportInterruptedBeforeWriting: ctrl-C before the write says that
// nothing was imported.
func TestImportInterruptedBeforeWriting(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	var stdout, stderr bytes.Buffer
	db := filepath.Join(t.TempDir(), "imported.db")
	err := run(ctx, []string{"events", "import", "--db", db, "-"}, bytes.NewReader(importLines(0, 10)), &stdout, &stderr)
	if _, ok := err.(interruptedError); !ok || err.Error() != "interrupted while checking -, at line 1: nothing imported" {
		t.Errorf("import with ctrl-C: %v", err)
	}
	if _, err := os.Stat(db); !os.IsNotExist(err) {
		t.Errorf("an interrupted check created the store")
	}
}

// TestUnknownIDExits1: an id that is not in the store (or a prefix of
// several) is a runtime failure, exit 1, for every command that takes one;
// a missing id is bad usage, exit 2.
func TestUnknownIDExits1(t *testing.T) {
	db := bigStore(t)
	out := filepath.Join(t.TempDir(), "fixture.json")
	for _, args := range [][]string{
		{"events", "show", "nope"},
		{"replay", "nope", "--to", "http://127.0.0.1:1"},
		{"resend", "nope", "--to", "http://127.0.0.1:1", "--secret", "s"},
		{"events", "save", "nope", out},
		{"verify", "nope", "--secret", "s"},
		{"trigger", "--from", "nope", "--to", "http://127.0.0.1:1"},
	} {
		for _, id := range []string{"nope", "big"} {
			a := append([]string{}, args...)
			for i := range a {
				if a[i] == "nope" {
					a[i] = id
				}
			}
			_, errOut, code := hooktapOut(t, nil, append(a, "--db", db)...)
			want := "hooktap: no such delivery: nope\n"
			if id == "big" {
				want = "hooktap: ambiguous delivery id: big matches "
			}
			if code != 1 || !strings.HasPrefix(errOut, want) || strings.Count(errOut, "\n") != 1 {
				t.Errorf("%v: exit %d, stderr %q; want 1 and %q", a, code, errOut, want)
			}
		}
	}
	if _, errOut, code := hooktapOut(t, nil, "replay", "--db", db); code != 2 {
		t.Errorf("replay without an id: exit %d (%s), want 2", code, errOut)
	}
}

// TestBadFlagValuesExit2: a flag value that the relay or an agent cannot
// take is bad usage, refused before anything starts.
func TestBadFlagValuesExit2(t *testing.T) {
	relay := []string{"relay", "--addr", "127.0.0.1:0", "--data", t.TempDir()}
	for _, tt := range []struct {
		args []string
		want string
	}{
		{append(relay, "--offline-status", "500"),
			"hooktap: bad --offline-status 500: use 202 (the relay keeps the delivery) or 503 (the sender retries)\n"},
		{append(relay, "--max-body", "-1"),
			"hooktap: bad --max-body -1: it may not be negative (0 for the default; see hooktap relay -h)\n"},
		{append(relay, "--buffer-ttl", "-1h"),
			"hooktap: bad --buffer-ttl -1h0m0s: it may not be negative (0 for the default; see hooktap relay -h)\n"},
		{[]string{"listen", "--relay", "http://127.0.0.1:1", "--channel", "x", "--forward-to", "http://127.0.0.1:2", "--no-tui", "--concurrency", "0"},
			"hooktap: bad --concurrency 0: want at least 1 (deliveries forwarded to the app at once)\n"},
	} {
		_, errOut, code := hooktapOut(t, nil, tt.args...)
		if code != 2 || errOut != tt.want {
			t.Errorf("%v: exit %d, stderr %q; want 2, %q", tt.args, code, errOut, tt.want)
		}
	}
}

// TestFlagErrorsNameTheValueOnce: a bad flag value is one line with the
// flag, the value once, and what to write.
func TestFlagErrorsNameTheValueOnce(t *testing.T) {
	db := bigStore(t)
	listen := []string{"listen", "--relay", "http://127.0.0.1:1", "--channel", "x", "--forward-to", "http://127.0.0.1:2", "--no-tui"}
	for _, tt := range []struct {
		args  []string
		value string
		want  string
	}{
		{[]string{"events", "list", "--db", db, "--status", "5zz"}, "5zz",
			`hooktap: bad --status "5zz": use 2xx, 4xx, 5xx, error, pending or a code like 404 (see hooktap events list -h)`},
		{append(listen, "--route", "payable.*"), "payable.*",
			`hooktap: bad --route "payable.*": write EVENTS=URL, e.g. 'payable.*=http://localhost:3000/payables' (see hooktap listen -h)`},
		{[]string{"trigger", "payable.created", "--to", "http://127.0.0.1:1", "--set", "object.status"}, "object.status",
			`hooktap: bad --set "object.status": write path=value, e.g. object.status=paid (see hooktap trigger -h)`},
		{[]string{"resend", "big00001", "--db", db, "--set", "object.status"}, "object.status",
			`hooktap: bad --set "object.status": write path=value, e.g. object.status=paid (see hooktap resend -h)`},
		{[]string{"events", "list", "--db", db, "--since", "yesterday"}, "yesterday",
			`hooktap: bad --since "yesterday": use an age like 15m, 2h, 3d, 2w, or a date like 2026-11-01`},
		{[]string{"relay", "--addr", "127.0.0.1:0", "--data", t.TempDir(), "--rate", "5zz"}, "5zz",
			`hooktap: bad --rate "5zz": use a number per second, minute or hour, e.g. 50/s`},
	} {
		_, errOut, code := hooktapOut(t, nil, tt.args...)
		if code != 2 || errOut != tt.want+"\n" || strings.Count(errOut, strconv.Quote(tt.value)) != 1 {
			t.Errorf("%v: exit %d, stderr %q; want 2, %q", tt.args, code, errOut, tt.want)
		}
	}
}

// TestImportRefusesUnsendableRequests: a record whose method the relay
// would refuse, or whose header net/http could not send, stops the import
// (the file is checked whole first): one line naming the line and what is
// wrong, nothing written.
func TestImportRefusesUnsendableRequests(t *testing.T) {
	good := `{"id":"ok1","channel":"dev","received_at":"2026-01-01T00:00:00Z","method":"POST","path":"/","body":"{}"}` + "\n"
	for _, tt := range []struct {
		name, record, want string
	}{
		{"shell in the method", `{"id":"bad1","received_at":"2026-01-01T00:00:00Z","method":"POST; touch /tmp/pwn #","path":"/"}`,
			`hooktap: import FILE: line 2: delivery bad1: bad method "POST; touch /tmp/pwn #": methods are 1-32 letters, digits, '-' or '_' (nothing imported)`},
		{"newline in a header name", `{"id":"bad2","received_at":"2026-01-01T00:00:00Z","method":"POST","path":"/","headers":{"X-A\nX-B":["1"]}}`,
			`hooktap: import FILE: line 2: delivery bad2: bad header name "X-A\nX-B": names are letters, digits and !#$%&'*+-.^_` + "`" + `|~ (nothing imported)`},
		{"CR in a header value", `{"id":"bad3","received_at":"2026-01-01T00:00:00Z","method":"POST","path":"/","headers":{"X-A":["1\r\nX-Evil: 1"]}}`,
			`hooktap: import FILE: line 2: delivery bad3: bad X-A header: a value may not hold CR, LF or NUL (nothing imported)`},
		{"NUL in a legacy header value", `{"id":"bad4","received_at":"2026-01-01T00:00:00Z","method":"POST","path":"/","header":{"X-A":["1\u0000"]}}`,
			`hooktap: import FILE: line 2: delivery bad4: bad X-A header: a value may not hold CR, LF or NUL (nothing imported)`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			file, db := filepath.Join(dir, "in.jsonl"), filepath.Join(dir, "imported.db")
			os.WriteFile(file, []byte(good+tt.record+"\n"+good), 0o600)
			_, errOut, code := hooktapOut(t, nil, "events", "import", "--db", db, file)
			if want := strings.Replace(tt.want, "FILE", file, 1) + "\n"; code != 1 || errOut != want {
				t.Errorf("exit %d, stderr %q; want 1, %q", code, errOut, want)
			}
			if _, err := os.Stat(db); !os.IsNotExist(err) {
				t.Errorf("a refused import created the store")
			}
		})
	}
}
