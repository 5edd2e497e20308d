package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func write(t *testing.T, text string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), FileName)
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestLoadProfileOverTopLevel(t *testing.T) {
	p := write(t, `
channel = "top"
events = ["payable.*", "counterpart.created"]
max_deliveries = 1000
no_web = true
db = "x/h.db"
[profiles.s]
channel = "prof"
events = "receivable.*"
`)
	f, err := Load(p, "s")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"channel": "prof", "events": "receivable.*", "max_deliveries": "1000", "no_web": "true",
		"db": filepath.Join(filepath.Dir(p), "x/h.db")}
	for k, w := range want {
		if v, ok := f.Get(k); !ok || v != w {
			t.Errorf("%s = %q %v, want %q", k, v, ok, w)
		}
	}
	if f.Where("channel") != p+" [profiles.s]" || f.Where("max_deliveries") != p {
		t.Errorf("where: %q %q", f.Where("channel"), f.Where("max_deliveries"))
	}
	if f, _ := Load(p, ""); f.Where("channel") != p {
		t.Errorf("without a profile the top-level value: %q", f.Where("channel"))
	}
	if _, ok := (&File{}).Get("channel"); ok {
		t.Error("an empty File has values")
	}
}

func TestLoadErrors(t *testing.T) {
	for text, want := range map[string]string{
		`max_deliveries = "many"`: "key max_deliveries: want a whole number",
		`no_web = "yes"`:          "key no_web: want true or false",
		`events = [1, 2]`:         "key events: want a list of strings",
		`profiles = 3`:            "profiles must be tables",
		"[profiles]\nx = 1":       "profiles.x must be a table",
		`token_env = "htk_a b"`:   "key token_env: must name an environment variable",
		// A secret or a relay token pasted in place of the variable's
		// name is a valid name too: told by its prefix.
		`secret_env = "whsec_MySecret123"`:  "key secret_env: must name an environment variable",
		`token_env = "htk_ABCDEF234567"`:    "key token_env: must name an environment variable",
		"[profiles.a]\nadmin_token = \"x\"": "key profiles.a.admin_token: a token does not belong in a file",
	} {
		_, err := Load(write(t, text), "")
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v, want %q", text, err, want)
		}
		if err != nil && strings.Contains(err.Error(), "MySecret") {
			t.Errorf("%q: the error shows the secret: %v", text, err)
		}
	}
	if _, err := Load("", "x"); err == nil || !strings.Contains(err.Error(), "there is no config file") {
		t.Errorf("a profile with no file: %v", err)
	}
}

func TestFind(t *testing.T) {
	dir, xdg := t.TempDir(), t.TempDir()
	env := func(k string) string {
		if k == "XDG_CONFIG_HOME" {
			return xdg
		}
		return ""
	}
	if got := Find(env, dir); got != "" {
		t.Errorf("no files: %q", got)
	}
	user := filepath.Join(xdg, "hooktap", "config.toml")
	os.MkdirAll(filepath.Dir(user), 0o755)
	os.WriteFile(user, nil, 0o644)
	if got := Find(env, dir); got != user {
		t.Errorf("user file: %q", got)
	}
	project := filepath.Join(dir, FileName)
	os.WriteFile(project, nil, 0o644)
	if got := Find(env, dir); got != project {
		t.Errorf("project file first: %q", got)
	}
}
