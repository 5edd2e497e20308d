// Package config reads hooktap's config file: hooktap.toml in the working
// directory, else $XDG_CONFIG_HOME/hooktap/config.toml (~/.config/...).
// Top-level keys are the defaults; a [profiles.NAME] table overrides them
// when --profile NAME is given. Keys are named like the flags, with _ for -.
// Secrets never go in the file: secret_env and token_env name environment
// variables that hold them.
package config

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/BurntSushi/toml"

	"github.com/hooktap/hooktap/inspector/catalog"
)

// Kind is what a key's value must be.
type Kind int

const (
	String  Kind = iota
	List         // an array of strings (or one comma-separated string)
	Int          // a whole number
	Bool         // true or false
	Path         // a file path, relative to the config file's directory
	EnvName      // the name of an environment variable
	Each         // an array of strings, each given to a repeatable flag (or one string)
)

// Key is a key the file may hold.
type Key struct {
	Name string
	Kind Kind
}

// Keys are the keys a file may hold, in the order config show lists them.
var Keys = []Key{
	{"relay", String},
	{"channel", String},
	{"forward_to", String},
	{"events", List},
	{"route", Each},
	{"entity_id", List},
	{"object_type", List},
	{"heartbeat", String},
	{"web", String},
	{"no_web", Bool},
	{"secret_env", EnvName},
	{"token_env", EnvName},
	{"db", Path},
	{"keep", String},
	{"max_deliveries", Int},
	{"concurrency", Int},
}

// refused are keys people may try that must not be in a file, and why.
var refused = map[string]string{
	"secret":        "a secret does not belong in a file: put it in an environment variable and name that with secret_env",
	"token":         "a token does not belong in a file: put it in an environment variable and name that with token_env",
	"admin_token":   "a token does not belong in a file: pass --admin-token or HOOKTAP_ADMIN_TOKEN",
	"metrics_token": "a token does not belong in a file: pass --metrics-token or HOOKTAP_METRICS_TOKEN",
	"routes":        "the key is route (as the flag --route): route = [\"payable.*=http://localhost:3000/payables\"]",
}

// FileName is the project's config file, looked for in the working
// directory.
const FileName = "hooktap.toml"

// Find returns the config file to read: hooktap.toml in dir, else the
// user's config.toml; "" when there is neither.
func Find(getenv func(string) string, dir string) string {
	cands := []string{filepath.Join(dir, FileName)}
	if x := getenv("XDG_CONFIG_HOME"); x != "" {
		cands = append(cands, filepath.Join(x, "hooktap", "config.toml"))
	} else if home, err := os.UserHomeDir(); err == nil {
		cands = append(cands, filepath.Join(home, ".config", "hooktap", "config.toml"))
	}
	for _, c := range cands {
		if st, err := os.Stat(c); err == nil && !st.IsDir() {
			return c
		}
	}
	return ""
}

// File is a loaded config file with a profile chosen.
type File struct {
	Path    string // "" when there is no file
	Profile string // "" for the top-level keys alone
	values  map[string]string
	from    map[string]string // key -> "" (top level) or the profile
}

// Get returns a key's value in the form a flag takes (lists joined with
// commas) and whether the file sets it.
func (f *File) Get(key string) (string, bool) {
	if f == nil {
		return "", false
	}
	v, ok := f.values[key]
	return v, ok
}

// Where says where a key's value comes from: the file, and the profile
// when the profile set it.
func (f *File) Where(key string) string {
	if p := f.from[key]; p != "" {
		return fmt.Sprintf("%s [profiles.%s]", f.Path, p)
	}
	return f.Path
}

// Load reads path (nothing when path is "") and applies profile.
func Load(path, profile string) (*File, error) {
	f := &File{Path: path, Profile: profile, values: map[string]string{}, from: map[string]string{}}
	if path == "" {
		if profile != "" {
			return nil, fmt.Errorf("--profile %s: there is no config file (%s here, or ~/.config/hooktap/config.toml)", profile, FileName)
		}
		return f, nil
	}
	var raw map[string]any
	if _, err := toml.DecodeFile(path, &raw); err != nil {
		var pe toml.ParseError
		if errors.As(err, &pe) {
			return nil, fmt.Errorf("%s: line %d: %s", path, pe.Position.Line, pe.Message)
		}
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	profiles, err := profileTables(path, raw["profiles"])
	if err != nil {
		return nil, err
	}
	delete(raw, "profiles")
	if err := f.set(raw, ""); err != nil {
		return nil, err
	}
	// Every profile is checked, not only the one in use: a typo shows at once.
	for name, p := range profiles {
		if err := (&File{Path: path, values: map[string]string{}, from: map[string]string{}}).set(p, name); err != nil {
			return nil, err
		}
	}
	if profile != "" {
		p, ok := profiles[profile]
		if !ok {
			return nil, fmt.Errorf("%s has no profile %q (%s)", path, profile, profileList(profiles))
		}
		if err := f.set(p, profile); err != nil {
			return nil, err
		}
	}
	return f, nil
}

func profileTables(path string, v any) (map[string]map[string]any, error) {
	out := map[string]map[string]any{}
	if v == nil {
		return out, nil
	}
	t, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("%s: profiles must be tables: [profiles.NAME]", path)
	}
	for name, p := range t {
		pt, ok := p.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("%s: profiles.%s must be a table: [profiles.%s]", path, name, name)
		}
		out[name] = pt
	}
	return out, nil
}

func profileList(profiles map[string]map[string]any) string {
	if len(profiles) == 0 {
		return "it defines none; add a [profiles.NAME] table"
	}
	var names []string
	for n := range profiles {
		names = append(names, n)
	}
	sort.Strings(names)
	return "it has " + strings.Join(names, ", ")
}

// set checks a table's keys and stores their values, from the given
// profile ("" for the top level).
func (f *File) set(t map[string]any, profile string) error {
	names := make([]string, 0, len(t))
	for k := range t {
		names = append(names, k)
	}
	sort.Strings(names) // the same error every time
	for _, k := range names {
		where := k
		if profile != "" {
			where = "profiles." + profile + "." + k
		}
		if why, ok := refused[k]; ok {
			return fmt.Errorf("%s: key %s: %s", f.Path, where, why)
		}
		i := slices.IndexFunc(Keys, func(key Key) bool { return key.Name == k })
		if i < 0 {
			return fmt.Errorf("%s: unknown key %s (%s)", f.Path, where, nearestKey(k, profile == ""))
		}
		v, err := value(Keys[i].Kind, t[k], filepath.Dir(f.Path))
		if err != nil {
			return fmt.Errorf("%s: key %s: %v", f.Path, where, err)
		}
		f.values[k], f.from[k] = v, profile
	}
	return nil
}

// nearestKey says which key a misspelt one likely meant ("did you mean
// forward_to?"), else lists the keys. At the top level a profiles table
// may be what was meant ([profile.x]).
func nearestKey(k string, top bool) string {
	names := keyList()
	if top {
		names = append(names, "profiles")
	}
	if near := catalog.Nearest(strings.ReplaceAll(k, "-", "_"), names, 1); len(near) > 0 {
		return "did you mean " + near[0] + "?"
	}
	return "known: " + strings.Join(keyList(), ", ")
}

func keyList() []string {
	var n []string
	for _, k := range Keys {
		n = append(n, k.Name)
	}
	return n
}

var envName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// looksLikeSecret: a signing secret (whsec_...) or a relay token (htk_...)
// can be a valid variable name too; pasted in place of one, it would be
// shown by config show as the variable's name.
func looksLikeSecret(s string) bool {
	l := strings.ToLower(s)
	return strings.HasPrefix(l, "whsec_") || strings.HasPrefix(l, "htk_")
}

// joinStrings reads a string, or an array of strings joined with sep (which
// none may hold).
func joinStrings(v any, sep, example string) (string, error) {
	bad := errors.New("want a list of strings, e.g. " + example)
	switch v := v.(type) {
	case string:
		return v, nil
	case []any:
		items := make([]string, 0, len(v))
		for _, it := range v {
			s, ok := it.(string)
			if !ok || sep == "\n" && strings.Contains(s, sep) {
				return "", bad
			}
			items = append(items, s)
		}
		return strings.Join(items, sep), nil
	}
	return "", bad
}

// value converts a TOML value to what a flag takes.
func value(k Kind, v any, dir string) (string, error) {
	switch k {
	case Each: // given to the flag one by one
		return joinStrings(v, "\n", `["payable.*=http://localhost:3000/payables"]`)
	case List:
		return joinStrings(v, ",", `["payable.*", "counterpart.created"]`)
	case Int:
		n, ok := v.(int64)
		if !ok {
			return "", errors.New("want a whole number")
		}
		return strconv.FormatInt(n, 10), nil
	case Bool:
		b, ok := v.(bool)
		if !ok {
			return "", errors.New("want true or false")
		}
		return strconv.FormatBool(b), nil
	}
	s, ok := v.(string)
	if !ok {
		return "", errors.New("want a string")
	}
	switch k {
	case EnvName:
		// The value is never echoed: it may be the secret itself.
		if !envName.MatchString(s) || looksLikeSecret(s) {
			return "", errors.New("must name an environment variable (like MONITE_WEBHOOK_SECRET), not hold the secret itself")
		}
	case Path:
		if rest, ok := strings.CutPrefix(s, "~/"); ok {
			if home, err := os.UserHomeDir(); err == nil {
				s = filepath.Join(home, rest)
			}
		}
		if s != "" && !filepath.IsAbs(s) {
			s = filepath.Join(dir, s)
		}
	}
	return s, nil
}
