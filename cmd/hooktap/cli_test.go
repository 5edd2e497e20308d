package main

import (
	"strings"
	"testing"
)

// The CLI's help and usage errors, through the real binary.

func TestCLIHelpForEveryCommand(t *testing.T) {
	var cmds [][]string
	for _, c := range commands() {
		if c.summary != "" { // hidden commands are for scripts
			cmds = append(cmds, []string{c.name})
		}
	}
	events := []string{"list", "show", "export", "import", "prune"}
	for _, c := range events {
		cmds = append(cmds, []string{"events", c})
	}
	env := []string{"XDG_DATA_HOME=" + t.TempDir()} // the same default --db in both
	for _, args := range cmds {
		out, errOut, code := hooktapOut(t, env, append(args, "-h")...)
		if code != 0 || errOut != "" || !strings.HasPrefix(out, "Usage: hooktap "+strings.Join(args, " ")) {
			t.Errorf("%v -h: exit %d, stdout %.80q, stderr %q", args, code, out, errOut)
		}
		// help X is X -h.
		hout, herr, hcode := hooktapOut(t, env, append([]string{"help"}, args...)...)
		if hcode != 0 || herr != "" || hout != out {
			t.Errorf("help %v: exit %d, stderr %q, stdout differs from -h: %.80q", args, hcode, herr, hout)
		}
	}
	// Flags are written as the README and the error lines write them.
	if out, _, _ := hooktapOut(t, nil, "listen", "-h"); !strings.Contains(out, "\n  --forward-to string\n") {
		t.Errorf("listen -h does not show --forward-to:\n%s", out)
	}
	out, _, code := hooktapOut(t, nil, "events", "--help")
	for _, c := range events {
		if code != 0 || !strings.Contains(out, "  "+c+" ") {
			t.Errorf("events --help: exit %d, no %s in %q", code, c, out)
		}
	}
}

// oneLine checks a usage error: exit 2, nothing on stdout, one line on
// stderr that contains want.
func oneLine(t *testing.T, want string, args ...string) {
	t.Helper()
	out, errOut, code := hooktapOut(t, nil, args...)
	if code != 2 || out != "" || strings.Count(errOut, "\n") != 1 || !strings.HasPrefix(errOut, "hooktap: ") || !strings.Contains(errOut, want) {
		t.Errorf("%v: exit %d, stdout %q, stderr %q; want exit 2 and one line with %q", args, code, out, errOut, want)
	}
}

func TestCLIBadFlagIsOneLine(t *testing.T) {
	oneLine(t, "unknown flag --bogus (see hooktap relay -h)", "relay", "--bogus")
	oneLine(t, "unknown flag --bogus (see hooktap events list -h)", "events", "list", "--bogus")
	oneLine(t, "(see hooktap listen -h)", "listen", "--concurrency", "many")
	oneLine(t, "see hooktap events -h", "events")
	// Flag values are named as users type them, --name, with what is wanted.
	oneLine(t, `bad --retry-scale "abc": want a number (see hooktap provider -h)`, "provider", "--retry-scale", "abc")
	oneLine(t, `bad --timeout "soon": want a duration`, "wait", "--timeout", "soon")
	oneLine(t, `--web needs a value (see hooktap status -h)`, "status", "--web")
	oneLine(t, "see hooktap channels -h", "channels")
}

func TestCLIUnknownCommandSuggests(t *testing.T) {
	oneLine(t, `unknown command "lisen": did you mean "listen"?`, "lisen")
	oneLine(t, `did you mean "trigger"?`, "triger")
	oneLine(t, `unknown events subcommand "lst": did you mean "list"?`, "events", "lst")
	oneLine(t, `unknown command "helpp": did you mean "help"?`, "helpp")
	_, errOut, _ := hooktapOut(t, nil, "xyzzyplugh")
	if strings.Contains(errOut, "did you mean") {
		t.Errorf("nonsense gets a suggestion: %q", errOut)
	}
}

func TestCLIBadAddressExit2(t *testing.T) {
	oneLine(t, `bad --addr "nonsense"`, "dev", "--addr", "nonsense", "--forward-to", "http://127.0.0.1:1", "--no-tui", "--no-web")
	oneLine(t, `bad --addr "nonsense"`, "relay", "--addr", "nonsense")
	oneLine(t, `bad --addr "127.0.0.1:http"`, "relay", "--addr", "127.0.0.1:http")
	oneLine(t, `bad --web "4040": want HOST:PORT, e.g. 127.0.0.1:4040 `, "listen", "--relay", "http://127.0.0.1:1", "--channel", "c", "--forward-to", "http://127.0.0.1:1", "--web", "4040", "--no-tui")
	oneLine(t, `bad --addr "nonsense"`, "web", "--addr", "nonsense")
}

// TestCLIUsageColumns: hooktap -h lists every command with its summary in
// one column, however long the command's name (healthcheck, completion).
func TestCLIUsageColumns(t *testing.T) {
	out, _, code := hooktapOut(t, nil, "-h")
	col := -1
	for _, c := range commands() {
		if c.summary == "" {
			continue
		}
		i := strings.Index(out, "\n  "+c.name+" ")
		if code != 0 || i < 0 {
			t.Fatalf("exit %d, no %s in:\n%s", code, c.name, out)
		}
		line := out[i+1:]
		line = line[:strings.IndexByte(line, '\n')]
		at := strings.Index(line, c.summary)
		if col == -1 {
			col = at
		}
		if at != col || strings.TrimSpace(line[:at]) != c.name {
			t.Errorf("%q: summary at column %d, want %d", line, at, col)
		}
	}
}
