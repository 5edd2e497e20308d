package main

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The config file through the real binary: hooktap.toml in the working
// directory, profiles, secret_env, precedence, and one-line errors.

func writeConfig(t *testing.T, dir, name, text string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	os.MkdirAll(filepath.Dir(p), 0o755)
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestConfigFileRunsListen: listen takes relay, channel, forward target,
// events and the secret (through secret_env) from hooktap.toml and a
// profile, with no flag; trigger, in the same directory, signs with the
// same secret, so the delivery verifies.
func TestConfigFileRunsListen(t *testing.T) {
	app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(204) }))
	defer app.Close()
	_, relayURL := startRelay(t)
	dir := t.TempDir()
	writeConfig(t, dir, "hooktap.toml", `
relay = "`+relayURL+`"
channel = "base"
forward_to = "http://127.0.0.1:1/nothing"
secret_env = "MY_WEBHOOK_SECRET"
db = "agent.db"
no_web = true

[profiles.ci]
channel = "from-profile"
forward_to = "`+app.URL+`/hooks"
events = ["payable.*"]
route = ["payable.paid=`+app.URL+`/paid", "payable.approved=`+app.URL+`/approved"]
heartbeat = "5s"
`)
	env := []string{"MY_WEBHOOK_SECRET=whsec_" + strings.Repeat("k", 32), "HOOKTAP_SECRET="}
	listen := startProcIn(t, dir, env, "listen", "--no-web", "--profile", "ci", "--no-tui", "--json")
	var ready struct {
		URL       string   `json:"url"`
		ForwardTo string   `json:"forward_to"`
		DB        string   `json:"db"`
		Routes    []string `json:"routes"`
	}
	line := listen.line(t, `"type":"ready"`)
	json.Unmarshal([]byte(line), &ready)
	if len(ready.Routes) != 2 || ready.Routes[1] != "payable.approved="+app.URL+"/approved" {
		t.Errorf("ready line %s: want the profile's two routes", line)
	}
	if ready.URL != relayURL+"/h/from-profile" || ready.ForwardTo != app.URL+"/hooks" || ready.DB != filepath.Join(dir, "agent.db") {
		t.Fatalf("ready line %s: want the profile's channel and target, the file's db beside it", line)
	}
	out, errOut, code := hooktapOutIn(t, dir, env, "trigger", "payable.created", "--to", ready.URL)
	if code != 0 || !strings.Contains(errOut, "secret from MY_WEBHOOK_SECRET") {
		t.Fatalf("trigger: exit %d %q %q", code, out, errOut)
	}
	d := listen.line(t, `"type":"delivery"`)
	if !strings.Contains(d, `"signature":"valid"`) || !strings.Contains(d, `"status":204`) {
		t.Errorf("delivery %s: want status 204, signature valid (secret from secret_env)", d)
	}
	// The events filter of the profile: a counterpart event is not sent.
	out, _, _ = hooktapOutIn(t, dir, env, "trigger", "counterpart.created", "--to", ready.URL)
	if !strings.Contains(out, "202") {
		t.Errorf("counterpart.created went to an agent subscribed to payable.* only: %q", out)
	}
}

// showConfig runs config show in dir and returns key -> [value, from].
func showConfig(t *testing.T, dir string, env []string, args ...string) map[string][2]string {
	t.Helper()
	out, errOut, code := hooktapOutIn(t, dir, env, append([]string{"config", "show"}, args...)...)
	if code != 0 {
		t.Fatalf("config show: exit %d %q", code, errOut)
	}
	rows := map[string][2]string{}
	lines := strings.Split(out, "\n")
	for _, l := range lines[3:] {
		f := strings.Fields(l)
		if len(f) >= 3 {
			rows[f[0]] = [2]string{f[1], strings.Join(f[2:], " ")}
		}
	}
	return rows
}

func TestConfigPrecedence(t *testing.T) {
	dir := t.TempDir()
	file := writeConfig(t, dir, "hooktap.toml", `
relay = "https://file.example.com"
channel = "file-channel"
forward_to = "http://localhost:3000/file"
db = "/tmp/file.db"
web = "127.0.0.1:4141"
entity_id = ["ent_me", "ent_other"]
[profiles.p]
web = "127.0.0.1:4242"
`)
	env := []string{"HOOKTAP_RELAY=https://env.example.com", "HOOKTAP_DB="}
	rows := showConfig(t, dir, env, "--forward-to", "http://localhost:9/flag", "--profile", "p")
	want := map[string][2]string{
		"relay":       {"https://env.example.com", "env HOOKTAP_RELAY"},
		"forward_to":  {"http://localhost:9/flag", "flag --forward-to"},
		"channel":     {"file-channel", file},
		"db":          {"/tmp/file.db", file},
		"web":         {"127.0.0.1:4242", file + " [profiles.p]"},
		"concurrency": {"64", "default"},
		"entity_id":   {"ent_me,ent_other", file},
	}
	for k, w := range want {
		if rows[k] != w {
			t.Errorf("%s: %q, want %q", k, rows[k], w)
		}
	}
	// No hooktap.toml here: the user's config.toml.
	other, xdg := t.TempDir(), t.TempDir()
	user := writeConfig(t, xdg, "hooktap/config.toml", `channel = "user-channel"`)
	rows = showConfig(t, other, []string{"XDG_CONFIG_HOME=" + xdg})
	if rows["channel"] != [2]string{"user-channel", user} {
		t.Errorf("user config: channel %q", rows["channel"])
	}
	// hooktap.toml in the directory comes first.
	rows = showConfig(t, dir, []string{"XDG_CONFIG_HOME=" + xdg})
	if rows["channel"] != [2]string{"file-channel", file} {
		t.Errorf("with both files: channel %q", rows["channel"])
	}
	// The secret is never shown, only whether it is set.
	writeConfig(t, dir, "hooktap.toml", `secret_env = "S_FOR_TEST"`)
	out, _, _ := hooktapOutIn(t, dir, []string{"S_FOR_TEST=whsec_dontshowme", "HOOKTAP_SECRET="}, "config", "show")
	if strings.Contains(out, "dontshowme") || !strings.Contains(out, "(set, not shown)") {
		t.Errorf("config show with a secret: %s", out)
	}
}

func TestConfigFileErrors(t *testing.T) {
	cases := []struct{ file, args, want string }{
		{`forwardto = "x"`, "events list", "unknown key forwardto"},
		{"[profiles.a]\nchanel = \"x\"", "listen", "unknown key profiles.a.chanel"},
		// A misspelt key names the key it likely meant.
		{`forwrad_to = "http://localhost:3000"`, "listen", "unknown key forwrad_to (did you mean forward_to?)"},
		{`forward-to = "http://localhost:3000"`, "dev", "unknown key forward-to (did you mean forward_to?)"},
		{"[profiles.a]\nevnets = [\"payable.*\"]", "listen", "unknown key profiles.a.evnets (did you mean events?)"},
		{"[profile.a]\nchannel = \"x\"", "listen", "unknown key profile (did you mean profiles?)"},
		{`zzzzzz = 1`, "listen", "unknown key zzzzzz (known: relay, channel, forward_to,"},
		{`secret = "whsec_topsecret"`, "tui", "key secret: a secret does not belong in a file"},
		{`token = "htk_topsecret"`, "listen", "key token: a token does not belong in a file"},
		{`secret_env = "whsec_topsecret-x"`, "resend x", "key secret_env: must name an environment variable"},
		{`route = "/billing -> http://localhost:3000"`, "dev", `route in ` /* the file */},
		{`route = ["payable.*=ftp://x"]`, "dev", "bad route"},
		{`routes = ["payable.*=http://x"]`, "dev", "key routes: the key is route"},
		{`events = 3`, "listen", "key events: want a list of strings"},
		{`channel = "x`, "listen", "line 1"},
		{`channel = "x"`, "listen --profile nope", `has no profile "nope"`},
		{`channel = "bad name"`, "listen --relay http://127.0.0.1:1 --forward-to http://127.0.0.1:1", `bad --channel "bad name"`},
	}
	for _, c := range cases {
		dir := t.TempDir()
		path := writeConfig(t, dir, "hooktap.toml", c.file)
		out, errOut, code := hooktapOutIn(t, dir, nil, strings.Fields(c.args)...)
		if code != 2 || out != "" || strings.Count(errOut, "\n") != 1 || !strings.Contains(errOut, c.want) {
			t.Errorf("%s with %q: exit %d, stderr %q; want exit 2 and one line with %q", c.args, c.file, code, errOut, c.want)
		}
		if strings.HasPrefix(c.want, "key") || strings.HasPrefix(c.want, "unknown") {
			if !strings.Contains(errOut, path) {
				t.Errorf("%q does not name the file %s", errOut, path)
			}
		}
		if strings.Contains(errOut, "topsecret") {
			t.Errorf("the error shows the secret: %q", errOut)
		}
	}
}
