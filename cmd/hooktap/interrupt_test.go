package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/hooktap/hooktap/inspector/store"
)

// ctrl-C on a command that is not done: one line in words saying how far
// it got, exit 130, no partial file.

// runInterrupted starts hooktap with its stdout read by stdout, waits
// until busy is closed (the command is under way), then sends SIGINT and returns stderr and the exit
// code.
func runInterrupted(t *testing.T, args []string, stdout func(io.Reader), busy <-chan struct{}) (string, int) {
	t.Helper()
	cmd := exec.Command(hooktapBin(t), args...)
	cmd.Env = append(os.Environ(), hooktapTestEnv(t)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	pipe, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	drained := make(chan struct{})
	go func() { stdout(pipe); io.Copy(io.Discard, pipe); close(drained) }()
	select {
	case <-busy:
	case <-time.After(20 * time.Second):
		cmd.Process.Kill()
		t.Fatalf("%v never got busy; stderr: %s", args, stderr.String())
	}
	cmd.Process.Signal(syscall.SIGINT)
	<-drained
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err = <-done:
	case <-time.After(20 * time.Second):
		cmd.Process.Kill()
		t.Fatalf("%v did not stop on SIGINT", args)
	}
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	}
	return stderr.String(), code
}

func TestTriggerInterrupted(t *testing.T) {
	var n atomic.Int64
	busy, release := make(chan struct{}), make(chan struct{})
	app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1) == 4 { // the fourth request hangs until the test is done
			close(busy)
			select {
			case <-r.Context().Done():
			case <-release:
			}
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	defer app.Close()
	defer close(release)
	errOut, code := runInterrupted(t, []string{"trigger", "payable.created", "--count", "5000", "--to", app.URL},
		func(r io.Reader) {}, busy)
	if code != 130 || !strings.Contains(errOut, "hooktap: interrupted after 3 of 5,000 requests\n") || strings.Contains(errOut, "context canceled") {
		t.Errorf("trigger interrupted: exit %d, stderr %q", code, errOut)
	}
}

// bigStore makes a store whose export is far larger than a pipe holds.
func bigStore(t *testing.T) string {
	t.Helper()
	db := filepath.Join(t.TempDir(), "big.db")
	s, err := store.Open(t.Context(), db)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	body := bytes.Repeat([]byte("x"), 8<<10)
	var ds []*store.Delivery
	for i := range 200 {
		ds = append(ds, &store.Delivery{ID: fmt.Sprintf("big%05d", i), Channel: "dev",
			ReceivedAt: time.Now(), Method: "POST", Path: "/", Body: body})
	}
	if _, err := s.Import(t.Context(), ds); err != nil {
		t.Fatal(err)
	}
	return db
}

func TestExportToStdoutInterrupted(t *testing.T) {
	db := bigStore(t)
	busy := make(chan struct{})
	// One byte read: the export has begun, and is then held up by the full
	// pipe (1.6 MB to write) until SIGINT has been sent.
	errOut, code := runInterrupted(t, []string{"events", "export", "--db", db, "--format", "har"},
		func(r io.Reader) { r.Read(make([]byte, 1)); close(busy) }, busy)
	if code != 130 || !strings.Contains(errOut, "hooktap: interrupted after ") ||
		!strings.Contains(errOut, "the export on stdout is incomplete (not valid HAR)") || strings.Count(errOut, "\n") != 1 {
		t.Errorf("export interrupted: exit %d, stderr %q", code, errOut)
	}
}

// TestExportOutputFile: --output writes the file whole, through a file
// beside it that a failed or interrupted export removes.
func TestExportOutputFile(t *testing.T) {
	db := bigStore(t)
	dir := t.TempDir()
	out := filepath.Join(dir, "all.har")
	_, errOut, err := evRun(t, "", "events", "export", "--db", db, "--format", "har", "--output", out)
	if err != nil {
		t.Fatalf("export --output: %v %s", err, errOut)
	}
	if b, err := os.ReadFile(out); err != nil || !bytes.HasPrefix(b, []byte("{")) || !bytes.Contains(b, []byte("big00199")) {
		t.Errorf("export --output wrote %d bytes (%v)", len(b), err)
	}
	// Interrupted: nothing at the path, no temp file left.
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	var stdout, stderr bytes.Buffer
	gone := filepath.Join(dir, "gone.har")
	err = run(ctx, []string{"events", "export", "--db", db, "--output", gone}, strings.NewReader(""), &stdout, &stderr)
	if _, ok := err.(interruptedError); !ok {
		t.Errorf("export with ctrl-C: %v, want interrupted", err)
	}
	w, done, err := exportOutput(&env{stdout: &stdout}, gone)
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(w, "[partial")
	done(false)
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		t.Errorf("after an interrupted export the directory holds %v, want only all.har", names)
	}
}
