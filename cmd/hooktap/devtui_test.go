package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// The tests in this file run `hooktap dev` in its terminal UI, in a tmux
// session of their own (a private tmux server), and read its screen.

var tmuxSessions atomic.Int64

// tmuxWindow is a command running in a detached 160x30 tmux window, on a
// tmux server of its own.
type tmuxWindow struct {
	t      *testing.T
	socket string
}

// tmuxRun starts command in a window. The window stays after the command
// ends, showing "exited N", so that the screen can be read after.
func tmuxRun(t *testing.T, command string) *tmuxWindow {
	t.Helper()
	w := &tmuxWindow{t: t, socket: fmt.Sprintf("hooktap-test-%d-%d", time.Now().UnixNano(), tmuxSessions.Add(1))}
	if out, err := w.tmux("new-session", "-d", "-x", "160", "-y", "30", "-s", "t",
		command+`; echo "exited $?"; sleep 600`); err != nil {
		t.Fatalf("tmux: %v\n%s", err, out)
	}
	t.Cleanup(func() { w.tmux("kill-server") })
	return w
}

func (w *tmuxWindow) tmux(args ...string) (string, error) {
	out, err := exec.Command("tmux", append([]string{"-L", w.socket}, args...)...).CombinedOutput()
	return string(out), err
}

// screen is what the window shows.
func (w *tmuxWindow) screen() string {
	out, err := w.tmux("capture-pane", "-p", "-t", "t")
	if err != nil {
		w.t.Fatalf("tmux capture-pane: %v\n%s", err, out)
	}
	return out
}

// keys types keys (tmux send-keys names: C-c, Escape, q).
func (w *tmuxWindow) keys(keys ...string) {
	if out, err := w.tmux(append([]string{"send-keys", "-t", "t"}, keys...)...); err != nil {
		w.t.Fatalf("tmux send-keys: %v\n%s", err, out)
	}
}

// waitScreen polls the screen until it matches re, and returns the match.
func (w *tmuxWindow) waitScreen(re *regexp.Regexp, within time.Duration) []string {
	t := w.t
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		s := w.screen()
		if m := re.FindStringSubmatch(s); m != nil {
			return m
		}
		if time.Now().After(deadline) {
			t.Fatalf("the screen never showed %s in %s:\n%s", re, within, s)
		}
		time.Sleep(50 * time.Millisecond) // a terminal screen: nothing to wait on
	}
}

// slowApp answers its first request only when the test ends, and every
// later one at once; got receives each request's body.
func slowApp(t *testing.T) (url string, got <-chan string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ch := make(chan string, 16)
	release := make(chan struct{})
	var n atomic.Int64
	s := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		ch <- string(b)
		if n.Add(1) == 1 {
			select {
			case <-release:
			case <-r.Context().Done():
			}
		}
	})}
	go s.Serve(ln)
	t.Cleanup(func() { close(release); s.Close() })
	return "http://" + ln.Addr().String() + "/webhooks", ch
}

// shellQuote quotes s for sh.
func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

// devInTmux runs `hooktap dev` with args in its terminal UI, with hooktap's
// environment cleared as startProc does.
func devInTmux(t *testing.T, args ...string) *tmuxWindow {
	t.Helper()
	words := []string{"env"}
	for _, kv := range hooktapTestEnv(t) {
		words = append(words, shellQuote(kv))
	}
	words = append(words, shellQuote(hooktapBin(t)), "dev")
	for _, a := range args {
		words = append(words, shellQuote(a))
	}
	return tmuxRun(t, strings.Join(words, " "))
}

// TestDevTUIBusyWebAndQuitInFlight: with the web inspector's port taken,
// dev's terminal UI says so on its status line, with what to do. Ctrl-C
// while the app holds a delivery says what it waits for, a second Ctrl-C
// quits at once, and the delivery, not acknowledged, reaches the app again
// when dev runs next on the same store and buffer (at least once).
func TestDevTUIBusyWebAndQuitInFlight(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	busyAddr := busy.Addr().String()
	port := busy.Addr().(*net.TCPAddr).Port
	app, got := slowApp(t)
	db, data := filepath.Join(t.TempDir(), "dev.db"), t.TempDir()
	w := devInTmux(t, "--forward-to", app, "--addr", "127.0.0.1:0", "--web", busyAddr, "--db", db, "--data", data, "--no-provider")

	m := w.waitScreen(regexp.MustCompile(`http://127\.0\.0\.1:(\d+)/h/dev`), 30*time.Second)
	hook := m[0]
	want := "web inspector not started: " + busyAddr + " is in use; try --web 127.0.0.1:" + strconv.Itoa(port+1) + " or --no-web"
	w.waitScreen(regexp.MustCompile(regexp.QuoteMeta(want)), 10*time.Second)

	go func() {
		resp, err := http.Post(hook, "application/json", strings.NewReader(`{"action":"payable.created","marker":"in-flight"}`))
		if err == nil {
			resp.Body.Close()
		}
	}()
	select {
	case b := <-got:
		if !strings.Contains(b, "in-flight") {
			t.Fatalf("app got %q", b)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the app never got the delivery")
	}
	w.keys("C-c")
	w.waitScreen(regexp.MustCompile(`waiting for 1 delivery in flight to the app… Ctrl-C again to quit now`), 10*time.Second)
	quit := time.Now()
	w.keys("C-c")
	w.waitScreen(regexp.MustCompile(`exited 130`), 10*time.Second)
	// The app still holds the request: nothing waited for it (dev's drain
	// waits up to 12 s).
	if took := time.Since(quit); took > 5*time.Second {
		t.Errorf("the second Ctrl-C took %s to quit", took.Round(time.Millisecond))
	}
	w.waitScreen(regexp.MustCompile(`quit with 1 delivery in flight to the app, not acknowledged`), time.Second)

	// dev again, on the same store and buffer: the relay sends it again.
	p := startProc(t, "dev", "--forward-to", app, "--addr", "127.0.0.1:0", "--web", "127.0.0.1:0", "--db", db, "--data", data, "--no-provider", "--json")
	select {
	case b := <-got:
		if !strings.Contains(b, "in-flight") {
			t.Fatalf("after a restart the app got %q", b)
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("the delivery in flight at the forced quit never came again; stderr:\n%s", p.stderrText())
	}
	p.stop(t)
}

// TestListenJSONBusyWeb: with --json, a web inspector that could not start
// is a JSON line, with what to do, and is said only there (not on stderr
// too).
func TestListenJSONBusyWeb(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	_, relayURL := startRelay(t)
	p := startProc(t, listenCmd(relayURL, "busyweb", "http://127.0.0.1:9/webhooks", filepath.Join(t.TempDir(), "a.db"), "--json", "--web", busy.Addr().String())...)
	var l struct {
		Type      string `json:"type"`
		Listening bool   `json:"listening"`
		Addr      string `json:"addr"`
		Error     string `json:"error"`
	}
	if err := json.Unmarshal([]byte(p.line(t, `"type":"web"`)), &l); err != nil {
		t.Fatal(err)
	}
	if l.Listening || l.Addr != busy.Addr().String() || !strings.Contains(l.Error, "is in use; try --web") || !strings.Contains(l.Error, "--no-web") {
		t.Errorf("web line %+v", l)
	}
	p.line(t, `"type":"ready"`)
	p.stop(t)
	if n := strings.Count(p.stderrText(), "web inspector not started"); n != 0 {
		t.Errorf("with --json the busy port is said on stderr too (%d times):\n%s", n, p.stderrText())
	}
}
