package main

import (
	"bytes"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestMakeRunSecret runs the Quickstart's `make run` with SECRET= on make's
// command line, and with HOOKTAP_SECRET in the environment: either way the
// agent has the secret, so a resend (the TUI's R) is signed and the app's
// own signature check passes; the secret is never printed. `go run` is
// built (GO= a go with nothing to build) and run as the test's binary
// (BIN=), with free ports.
func TestMakeRunSecret(t *testing.T) {
	if _, err := exec.LookPath("make"); err != nil {
		t.Fatal("make not found: install it (apt-get install -y make)")
	}
	const secret = "whsec_make_run_secret_0123456789"
	cases := []struct {
		name    string
		args    []string
		env     []string
		signing bool
	}{
		{"SECRET on make's command line", []string{"SECRET=" + secret}, nil, true},
		{"HOOKTAP_SECRET in the environment", nil, []string{"HOOKTAP_SECRET=" + secret}, true},
		{"no secret", nil, nil, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			app := newRecordingApp(t, moniteCheck(secret))
			out := startMakeRun(t, app.URL+"/webhooks", tc.args, tc.env)
			web := out.match(t, webLine)
			ingress := out.match(t, regexp.MustCompile(`"type":"ready","url":"([^"]+)"`))
			resp, err := http.Post(ingress, "application/json", strings.NewReader(`{"action":"payable.created","object":{"id":"pay_1"}}`))
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			id := out.match(t, regexp.MustCompile(`"type":"delivery","id":"([^"]+)"`))

			page, err := http.Get(web + "/")
			if err != nil {
				t.Fatal(err)
			}
			html, _ := io.ReadAll(page.Body)
			page.Body.Close()
			token := regexp.MustCompile(`hooktap-token" content="([A-Z2-7]+)"`).FindSubmatch(html)
			if token == nil {
				t.Fatal("no token in the page")
			}
			req, _ := http.NewRequest("POST", web+"/api/deliveries/"+id+"/resend", strings.NewReader(`{}`))
			req.Header.Set("X-Hooktap-Token", string(token[1]))
			req.Header.Set("Content-Type", "application/json")
			resp, err = http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			var got struct {
				Attempt struct{ Status int }
				Error   string
			}
			json.NewDecoder(resp.Body).Decode(&got)
			resp.Body.Close()
			if tc.signing && (resp.StatusCode != 200 || got.Attempt.Status != 200) {
				t.Errorf("resend: %d %+v, want the app's 200 for a valid signature", resp.StatusCode, got)
			}
			// Without a secret the curl above arrived unsigned, and is resent
			// unsigned: the app's check refuses it, and no secret was needed.
			if !tc.signing && (resp.StatusCode != 200 || got.Attempt.Status == 200) {
				t.Errorf("resend of an unsigned delivery without a secret: %d %+v, want it sent unsigned", resp.StatusCode, got)
			}
			if strings.Contains(out.text(), secret) {
				t.Errorf("the secret was printed:\n%s", out.text())
			}
		})
	}
}

// makeRun is what a running `make run` printed.
type makeRun struct{ out *lockedWriter }

func (m *makeRun) text() string {
	m.out.mu.Lock()
	defer m.out.mu.Unlock()
	return m.out.w.(*bytes.Buffer).String()
}

// match waits until the output has a match of re and returns its first group.
func (m *makeRun) match(t *testing.T, re *regexp.Regexp) string {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if g := re.FindStringSubmatch(m.text()); g != nil {
			return g[1]
		}
		time.Sleep(20 * time.Millisecond) // output into a buffer: nothing to wait on
	}
	t.Fatalf("make run printed no %s:\n%s", re, m.text())
	return ""
}

// startMakeRun runs `make run` in the repository with forward as
// FORWARD_TO, stopping it (its whole process group) when the test ends.
func startMakeRun(t *testing.T, forward string, args, env []string) *makeRun {
	t.Helper()
	dir := t.TempDir()
	// make run builds BIN, then runs it: GO= stands for a go whose build
	// has nothing to do, BIN= for the test's binary with free ports.
	noGo, bin := filepath.Join(dir, "go"), filepath.Join(dir, "hooktap")
	// Free ports unless make passes --addr or --web: its flags come last,
	// and the last wins.
	wrapper := "#!/bin/sh\n# stands for bin/hooktap\ncmd=$1; shift\nexec " + hooktapBin(t) +
		` "$cmd" --addr 127.0.0.1:0 --web 127.0.0.1:0 --json --data ` + dir + "/relay --db " + dir + "/dev.db \"$@\"\n"
	if os.WriteFile(noGo, []byte("#!/bin/sh\nexit 0\n"), 0o755) != nil || os.WriteFile(bin, []byte(wrapper), 0o755) != nil {
		t.Fatal("cannot write the stand-ins")
	}
	cmd := exec.Command("make", append([]string{"-C", "../..", "--no-print-directory", "run", "GO=" + noGo, "BIN=" + bin, "FORWARD_TO=" + forward}, args...)...)
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); k != "SECRET" && k != "HOOKTAP_SECRET" && k != "MAKEFLAGS" && k != "MFLAGS" {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	out := &makeRun{out: &lockedWriter{w: &bytes.Buffer{}}}
	cmd.Stdout, cmd.Stderr = out.out, out.out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
		cmd.Wait()
	})
	return out
}

// TestMakeRunForwardToAsGiven: make run passes FORWARD_TO to the agent as
// one argument, whatever it holds: a query with & (which sh would take for
// "run in the background") or a quote.
func TestMakeRunForwardToAsGiven(t *testing.T) {
	app := newRecordingApp(t, nil)
	forward := app.URL + "/web'hooks?a=1&b=2"
	out := startMakeRun(t, forward, nil, nil)
	var ready struct {
		ForwardTo string `json:"forward_to"`
	}
	line := out.match(t, regexp.MustCompile(`(\{"type":"ready".*\})`))
	if err := json.Unmarshal([]byte(line), &ready); err != nil {
		t.Fatal(err)
	}
	if ready.ForwardTo != forward {
		t.Errorf("the agent forwards to %q, want %q; make run printed:\n%s", ready.ForwardTo, forward, out.text())
	}
}

// TestMakeRunAddrWeb: make run passes ADDR and WEB to dev as --addr and
// --web, and a busy port's message says how to pick another with make.
func TestMakeRunAddrWeb(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	busyAddr := busy.Addr().String()

	out := startMakeRun(t, "http://127.0.0.1:1/hooks", []string{"ADDR=" + busyAddr}, nil)
	out.match(t, regexp.MustCompile(`(pick another --addr, or with make: make run ADDR=127\.0\.0\.1:PORT)`))

	// A free port for the relay (taken, then let go), the busy one for
	// the web inspector.
	free, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	freeAddr := free.Addr().String()
	free.Close()
	out = startMakeRun(t, "http://127.0.0.1:1/hooks", []string{"ADDR=" + freeAddr, "WEB=" + busyAddr}, nil)
	// (The busy web message keeps to flags: with make's way too it would
	// not fit the terminal UI's status line in 120 columns.)
	out.match(t, regexp.MustCompile(`(web inspector not started: `+regexp.QuoteMeta(busyAddr)+` is in use)`))
	url := out.match(t, regexp.MustCompile(`\{"type":"ready","url":"([^"]*)"`))
	if url != "http://"+freeAddr+"/h/dev" {
		t.Errorf("the relay's URL is %s, want it on %s:\n%s", url, freeAddr, out.text())
	}
}
