package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// The tests in this file run the real hooktap binary as subprocesses on
// loopback ports.

var (
	binOnce sync.Once
	binPath string
	binErr  error
)

// hooktapBin builds the binary once per test run.
func hooktapBin(t *testing.T) string {
	t.Helper()
	binOnce.Do(func() {
		dir, err := os.MkdirTemp("", "hooktap-bin-")
		if err != nil {
			binErr = err
			return
		}
		binPath = filepath.Join(dir, "hooktap")
		out, err := exec.Command("go", "build", "-o", binPath, ".").CombinedOutput()
		if err != nil {
			binErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return binPath
}

// proc is a running hooktap subprocess whose stdout is read line by line.
type proc struct {
	cmd    *exec.Cmd
	lines  chan string
	stderr *bytes.Buffer
	done   chan error
}

func startProc(t *testing.T, args ...string) *proc {
	t.Helper()
	return startProcEnv(t, nil, args...)
}

// startProcEnv is startProc with extra environment variables; hooktap's own
// are cleared first, so that the developer's environment does not leak in.
func startProcEnv(t *testing.T, env []string, args ...string) *proc {
	t.Helper()
	return startProcIn(t, "", env, args...)
}

// hooktapTestEnv clears what hooktap reads from the developer's
// environment: its variables, data and config directories.
func hooktapTestEnv(t *testing.T) []string {
	return []string{"XDG_DATA_HOME=" + t.TempDir(), "XDG_CONFIG_HOME=" + t.TempDir(), "HOOKTAP_DB=", "HOOKTAP_TOKEN=",
		"HOOKTAP_ADMIN_TOKEN=", "HOOKTAP_METRICS_TOKEN=", "HOOKTAP_RELAY=", "HOOKTAP_PROFILE=", "HOOKTAP_PROVIDER_TOKEN="}
}

// startProcIn is startProcEnv in working directory dir ("": the test's).
func startProcIn(t *testing.T, dir string, env []string, args ...string) *proc {
	t.Helper()
	cmd := exec.Command(hooktapBin(t), args...)
	cmd.Dir = dir
	cmd.Env = append(append(os.Environ(), hooktapTestEnv(t)...), env...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	p := &proc{cmd: cmd, lines: make(chan string, 4096), stderr: &bytes.Buffer{}, done: make(chan error, 1)}
	cmd.Stderr = &lockedWriter{w: p.stderr}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			p.lines <- sc.Text()
		}
		close(p.lines)
		p.done <- cmd.Wait()
	}()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-p.done
		defaultAddrUsed(t, args, p.stderrText())
	})
	return p
}

// line waits for the next stdout line that contains substr: up to a
// minute, as a wait that ends when the line comes. Three -race builds of a
// relay forming a cluster took over 20 s once, beside 90 s of fuzzing on
// both cores.
func (p *proc) line(t *testing.T, substr string) string {
	t.Helper()
	timeout := time.After(time.Minute)
	for {
		select {
		case l, ok := <-p.lines:
			if !ok {
				t.Fatalf("process ended before printing %q; stderr:\n%s", substr, p.stderrText())
			}
			if strings.Contains(l, substr) {
				return l
			}
		case <-timeout:
			t.Fatalf("no line with %q in a minute; stderr:\n%s", substr, p.stderrText())
		}
	}
}

// stop sends SIGTERM and waits for a clean exit.
func (p *proc) stop(t *testing.T) {
	t.Helper()
	p.cmd.Process.Signal(syscall.SIGTERM)
	for range p.lines {
	}
	select {
	case err := <-p.done:
		p.done <- err // for Cleanup
		if err != nil {
			t.Errorf("%s exited with %v; stderr:\n%s", p.cmd.Args[1], err, p.stderr)
		}
	case <-time.After(20 * time.Second):
		t.Errorf("%s did not stop on SIGTERM", p.cmd.Args[1])
	}
}

type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(b)
}

// startRelay runs `hooktap relay` on a free port and returns its base URL.
func startRelay(t *testing.T, extra ...string) (*proc, string) {
	p := startProc(t, append([]string{"relay", "--addr", "127.0.0.1:0", "--data", t.TempDir()}, extra...)...)
	l := p.line(t, "listening on ")
	addr := strings.Fields(l[strings.Index(l, "listening on ")+len("listening on "):])[0]
	return p, "http://" + addr
}

func TestProcessesRelayListenManyDeliveries(t *testing.T) {
	var mu sync.Mutex
	got := map[string][]byte{}
	app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		got[r.URL.Path+"|"+r.Header.Get("X-Seq")] = b
		mu.Unlock()
		w.WriteHeader(http.StatusOK)
		fmt.Fprintf(w, `{"seen":%q}`, r.Header.Get("X-Seq"))
	}))
	defer app.Close()

	relayProc, relayURL := startRelay(t)
	db := filepath.Join(t.TempDir(), "agent.db")
	listen := startProc(t, "listen", "--no-web", "--relay", relayURL, "--channel", "ci", "--forward-to", app.URL+"/webhooks",
		"--db", db, "--no-tui", "--json")
	var ready struct{ Type, URL string }
	if err := json.Unmarshal([]byte(listen.line(t, `"type":"ready"`)), &ready); err != nil || ready.URL != relayURL+"/h/ci" {
		t.Fatalf("ready line: %+v %v", ready, err)
	}

	const n, workers = 300, 16
	jobs := make(chan int)
	errs := make(chan error, n)
	ids := make(chan string, n)
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				body := fmt.Sprintf(`{"id":"evt_%d","action":"payable.created","object_type":"payable","entity_id":"ent_%d","object":{"id":"pay_%d"}}`, i, i%7, i)
				req, _ := http.NewRequest("POST", ready.URL+"/billing", strings.NewReader(body))
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set("X-Seq", fmt.Sprint(i))
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					errs <- err
					continue
				}
				rb, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 || string(rb) != fmt.Sprintf(`{"seen":"%d"}`, i) {
					errs <- fmt.Errorf("delivery %d: sender got %d %s", i, resp.StatusCode, rb)
					continue
				}
				ids <- resp.Header.Get("X-Hooktap-Delivery")
			}
		}()
	}
	for i := 0; i < n; i++ {
		jobs <- i
	}
	close(jobs)
	wg.Wait()
	close(errs)
	close(ids)
	for err := range errs {
		t.Error(err)
	}
	mu.Lock()
	if len(got) != n {
		t.Errorf("app got %d distinct deliveries, want %d", len(got), n)
	}
	for i := 0; i < n; i++ {
		b, ok := got[fmt.Sprintf("/webhooks/billing|%d", i)]
		if !ok || !strings.Contains(string(b), fmt.Sprintf(`"evt_%d"`, i)) {
			t.Errorf("delivery %d: app got %q", i, b)
		}
	}
	mu.Unlock()

	// One JSON line per delivery on listen's stdout.
	for i := 0; i < n; i++ {
		l := listen.line(t, `"type":"delivery"`)
		var dl struct {
			ID         string
			Action     string
			ObjectType string `json:"object_type"`
			Status     int
		}
		json.Unmarshal([]byte(l), &dl)
		if dl.Status != 200 || dl.ID == "" || dl.Action != "payable.created" || dl.ObjectType != "payable" {
			t.Fatalf("delivery line %s", l)
		}
	}
	listen.stop(t)
	relayProc.stop(t)

	// Every delivery is in the store, with the fields DESIGN.md names.
	out, err := exec.Command(hooktapBin(t), "events", "list", "--db", db, "--json", "--limit", "1000").Output()
	if err != nil {
		t.Fatalf("events list: %v", err)
	}
	stored := map[string]bool{}
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		var row map[string]any
		if err := json.Unmarshal([]byte(l), &row); err != nil {
			t.Fatalf("events list line %q: %v", l, err)
		}
		for _, f := range []string{"id", "received_at", "method", "path", "object_type", "action", "entity_id", "object_id", "status", "duration_ms", "attempts", "signature"} {
			if _, ok := row[f]; !ok {
				t.Fatalf("events list line lacks %q: %s", f, l)
			}
		}
		if row["attempts"].(float64) != 1 || row["action"] != "payable.created" {
			t.Errorf("row %s", l)
		}
		stored[row["id"].(string)] = true
	}
	for id := range ids {
		if !stored[id] {
			t.Errorf("delivery %s answered but not in events list", id)
		}
	}
	if len(stored) != n {
		t.Errorf("events list has %d deliveries, want %d", len(stored), n)
	}
}

func TestProcessUsageErrorsExit2(t *testing.T) {
	for _, args := range [][]string{
		{"nope"},
		{"listen", "--channel", "x"},
		{"listen", "--relay", "http://127.0.0.1:1", "--channel", "bad name", "--forward-to", "http://x"},
		{"relay", "--bogus"},
	} {
		cmd := exec.Command(hooktapBin(t), args...)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		err := cmd.Run()
		ee, ok := err.(*exec.ExitError)
		if !ok || ee.ExitCode() != 2 {
			t.Errorf("%v: exit %v, want 2", args, err)
		}
		if !strings.Contains(stderr.String(), "hooktap:") {
			t.Errorf("%v: stderr %q has no one-line error", args, stderr.String())
		}
	}
	if err := exec.Command(hooktapBin(t), "listen", "-h").Run(); err != nil {
		t.Errorf("-h is not success: %v", err)
	}
}

// stderrText is what p has written to stderr so far (the writer may still
// be writing: read under its lock).
func (p *proc) stderrText() string {
	if lw, ok := p.cmd.Stderr.(*lockedWriter); ok {
		lw.mu.Lock()
		defer lw.mu.Unlock()
	}
	return p.stderr.String()
}
