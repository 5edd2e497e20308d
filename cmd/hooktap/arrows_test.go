package main

import (
	"encoding/json"
	"io"
	"os/exec"
	"strings"
	"testing"
)

// The packages' arrows, as the README's Layout section states them. The
// test reads what every package imports, directly or not (go list -deps),
// and fails when a forbidden arrow appears.

const module = "github.com/hooktap/hooktap/"

// shared are the packages both sides use on purpose: the wire protocol,
// the SQLite opener and writer, the payload field reader. They import only
// each other.
var shared = []string{"relay/wire", "relay/sqlitedb", "relay/payload"}

// leaves import nothing of hooktap's.
var leaves = []string{"inspector/signing", "inspector/catalog", "inspector/jsonedit", "inspector/testenv"}

// rules say, per package (a prefix), which packages (prefixes) it must not
// depend on. isShared packages are exempt from "relay" prefixes.
var rules = []struct {
	pkg    string
	forbid []string
	why    string
}{
	{"relay", []string{"inspector", "tui", "web", "cmd"}, "the public relay does not import the local inspector's tree, nor the UIs"},
	{"inspector", []string{"relay", "tui", "web", "cmd"}, "the agent uses nothing of the relay's but what is shared on purpose, and no UI"},
	{"tui", []string{"relay", "web", "cmd", "inspector/agent"}, "the terminal UI works over the store, live events and replay"},
	{"web", []string{"relay", "tui", "cmd", "inspector/agent"}, "the web inspector works over the store, live events and replay"},
	{"inspector/store", []string{"inspector/agent", "inspector/forward", "inspector/live", "inspector/replay"}, "the store is the bottom of the inspector"},
	{"inspector/forward", []string{"inspector/agent", "inspector/live", "inspector/replay"}, "the forwarder knows requests and attempts only"},
	{"inspector/live", []string{"inspector/agent", "inspector/forward", "inspector/replay"}, "live events carry records, nothing else"},
	{"inspector/provider", []string{"inspector/agent", "inspector/forward", "inspector/live", "inspector/replay", "inspector/store"}, "the provider emulator is the other end: it knows signing, the catalog and JSON edits, not the agent's side"},
}

func hasPrefix(pkg, prefix string) bool { return pkg == prefix || strings.HasPrefix(pkg, prefix+"/") }

func isAny(pkg string, set []string) bool {
	for _, p := range set {
		if hasPrefix(pkg, p) {
			return true
		}
	}
	return false
}

func TestPackageArrows(t *testing.T) {
	cmd := exec.Command("go", "list", "-e", "-json=ImportPath,Deps", module+"...")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	deps := map[string][]string{}
	dec := json.NewDecoder(out)
	for {
		var p struct {
			ImportPath string
			Deps       []string
		}
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		pkg := strings.TrimPrefix(p.ImportPath, module)
		for _, d := range p.Deps {
			if strings.HasPrefix(d, module) {
				deps[pkg] = append(deps[pkg], strings.TrimPrefix(d, module))
			}
		}
		if _, ok := deps[pkg]; !ok {
			deps[pkg] = nil
		}
	}
	if err := cmd.Wait(); err != nil {
		t.Fatal(err)
	}
	if len(deps) < 15 {
		t.Fatalf("go list found %d packages: %v", len(deps), deps)
	}
	for pkg, ds := range deps {
		for _, d := range ds {
			switch {
			case isAny(pkg, shared) && !isAny(d, shared):
				t.Errorf("%s imports %s: the shared packages (%s) import only each other", pkg, d, strings.Join(shared, ", "))
			case isAny(pkg, leaves):
				t.Errorf("%s imports %s: it is a leaf, importing nothing of hooktap's", pkg, d)
			}
			for _, r := range rules {
				if !hasPrefix(pkg, r.pkg) || isAny(pkg, shared) {
					continue
				}
				for _, f := range r.forbid {
					if hasPrefix(d, f) && !isAny(d, shared) && !hasPrefix(d, r.pkg) {
						t.Errorf("%s imports %s: %s", pkg, d, r.why)
					}
				}
			}
		}
	}
}
