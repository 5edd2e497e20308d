package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestCompletionBash loads the generated script in a real bash, as a user's
// ~/.bashrc would, and asks it for candidates the way bash does on TAB
// (COMP_WORDS, COMP_CWORD, then the registered function).
func TestCompletionBash(t *testing.T) {
	bin := t.TempDir()
	if err := os.Symlink(hooktapBin(t), filepath.Join(bin, "hooktap")); err != nil {
		t.Fatal(err)
	}
	db := evStore(t)
	script := `
set -e
eval "$(hooktap completion bash)"
complete -p hooktap
comp() {
  COMP_WORDS=("$@"); COMP_CWORD=$(( $# - 1 )); COMPREPLY=()
  _hooktap
  echo "== $*"
  printf '%s\n' "${COMPREPLY[@]}"
}
comp hooktap li
comp hooktap ""
comp hooktap events ""
comp hooktap listen --ev
comp hooktap listen --events payable.created,counterpart.cr
comp hooktap trigger payable.cr
comp hooktap resend --db "$DB" ""
comp hooktap events show --db "$DB" aaaa
comp hooktap events list --status ""
comp hooktap completion ""
comp hooktap channels --json ""
`
	cmd := exec.Command("bash", "--norc", "--noprofile", "-c", script)
	cmd.Env = append(append(os.Environ(), hooktapTestEnv(t)...), "PATH="+bin+":"+os.Getenv("PATH"), "DB="+db)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("bash: %v\n%s", err, out)
	}
	got := map[string][]string{}
	var key string
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if k, ok := strings.CutPrefix(l, "== "); ok {
			key = k
			got[key] = []string{}
			continue
		}
		if key == "" {
			if l != "complete -o default -F _hooktap hooktap" {
				t.Errorf("complete -p hooktap: %q", l)
			}
			continue
		}
		if l != "" {
			got[key] = append(got[key], l)
		}
	}
	want := map[string][]string{
		"hooktap li":                               {"listen"},
		"hooktap events ":                          {"list", "show", "export", "import", "prune", "save"},
		"hooktap listen --ev":                      {"--events"},
		"hooktap resend --db " + db + " ":          {"cccc1111", "bbbb2222", "bbbb1111", "aaaa2222", "aaaa1111"},
		"hooktap events show --db " + db + " aaaa": {"aaaa2222", "aaaa1111"},
		"hooktap events list --status ":            {"2xx", "4xx", "5xx", "error", "pending"},
		"hooktap completion ":                      {"bash", "zsh", "fish"},
		"hooktap channels --json ":                 {"create", "list", "delete", "rotate-token", "rotate-url"},
	}
	for k, w := range want {
		if !slices.Equal(got[k], w) {
			t.Errorf("%s<TAB>: %q, want %q", k, got[k], w)
		}
	}
	if all := got["hooktap "]; !slices.Contains(all, "dev") || !slices.Contains(all, "completion") || slices.Contains(all, "__complete") {
		t.Errorf("hooktap <TAB>: %q", all)
	}
	if ev := got["hooktap trigger payable.cr"]; !slices.Contains(ev, "payable.created") || slices.ContainsFunc(ev, func(s string) bool { return !strings.HasPrefix(s, "payable.cr") }) {
		t.Errorf("trigger payable.cr<TAB>: %q", ev)
	}
	if ev := got["hooktap listen --events payable.created,counterpart.cr"]; !slices.Contains(ev, "payable.created,counterpart.created") {
		t.Errorf("--events a,b<TAB>: %q", ev)
	}
}

func TestCompletionScripts(t *testing.T) {
	for _, sh := range []string{"bash", "zsh", "fish"} {
		out, errOut, code := hooktapOut(t, nil, "completion", sh)
		if code != 0 || !strings.Contains(out, "hooktap __complete") {
			t.Errorf("completion %s: exit %d %q", sh, code, errOut)
		}
	}
	oneLine(t, "completion needs a shell: bash, zsh or fish", "completion", "tcsh")
	// bash parses its script.
	out, _, _ := hooktapOut(t, nil, "completion", "bash")
	if b, err := exec.Command("bash", "-n", "-c", out).CombinedOutput(); err != nil {
		t.Errorf("bash -n: %v %s", err, b)
	}
}
