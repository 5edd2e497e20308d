package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The README's set-up lines, run for real: make install, the shared build
// flags of make run/build/install, and make test on a machine that lacks
// what the tests need.

// makeOut runs make in dir with a deadline and returns its output.
func makeOut(t *testing.T, dir string, env []string, args ...string) (string, int) {
	t.Helper()
	// A cold build of everything takes minutes on a loaded machine (.ci/run
	// runs make install first, so that the tests find the cache warm).
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "make", append([]string{"--no-print-directory", "-C", dir}, args...)...)
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("make %v: %v", args, err)
	}
	return string(out), code
}

// goFlags returns, for each go command that make -n prints for target,
// its environment (but GOOS and GOARCH) and flags: what comes before
// ./cmd/hooktap, without -o FILE and the verb.
func goFlags(t *testing.T, target string) []string {
	t.Helper()
	out, code := makeOut(t, "../..", nil, "-n", target)
	if code != 0 {
		t.Fatalf("make -n %s: exit %d\n%s", target, code, out)
	}
	var flags []string
	for _, l := range strings.Split(out, "\n") {
		before, _, ok := strings.Cut(l, "./cmd/hooktap")
		f := strings.Fields(before)
		i := slices.Index(f, "go")
		if !ok || i < 0 || i+1 == len(f) || !slices.Contains([]string{"build", "install", "run"}, f[i+1]) {
			continue
		}
		var kept []string
		for j := 0; j < len(f); j++ {
			switch {
			case j == i || j == i+1, strings.HasPrefix(f[j], "GOOS="), strings.HasPrefix(f[j], "GOARCH="):
			case f[j] == "-o":
				j++
			default:
				kept = append(kept, f[j])
			}
		}
		flags = append(flags, strings.Join(kept, " "))
	}
	return flags
}

func TestMakeRunBuildInstallShareFlags(t *testing.T) {
	want := goFlags(t, "build")
	if len(want) != 1 || want[0] == "" {
		t.Fatalf("make -n build: go build lines %q", want)
	}
	for _, target := range []string{"run", "install", "dist"} {
		got := goFlags(t, target)
		if len(got) == 0 {
			t.Errorf("make -n %s runs no go build of ./cmd/hooktap", target)
		}
		for _, g := range got {
			if g != want[0] {
				t.Errorf("make %s builds with %q, make build with %q: the build cache is not shared", target, g, want[0])
			}
		}
	}
}

// TestMakeDistPlatforms checks make dist's plan: the six platforms, static,
// and a checksum file. (Building them all takes minutes; .ci/run builds the
// container image's binary for real.)
func TestMakeDistPlatforms(t *testing.T) {
	out, code := makeOut(t, "../..", nil, "-n", "dist")
	if code != 0 {
		t.Fatalf("make -n dist: exit %d\n%s", code, out)
	}
	for _, os := range []string{"linux", "darwin", "windows"} {
		for _, arch := range []string{"amd64", "arm64"} {
			if !strings.Contains(out, "GOOS="+os+" GOARCH="+arch+" CGO_ENABLED=0 go build") {
				t.Errorf("make dist does not build %s/%s statically:\n%s", os, arch, out)
			}
		}
	}
	if !strings.Contains(out, "> SHA256SUMS") {
		t.Errorf("make dist writes no SHA256SUMS:\n%s", out)
	}
	if !strings.Contains(goFlags(t, "build")[0], "CGO_ENABLED=0") {
		t.Errorf("make build is not static (CGO_ENABLED=0): the image and release binaries would differ from it")
	}
}

func TestMakeInstallPutsHooktapOnPath(t *testing.T) {
	gobin := t.TempDir()
	out, code := makeOut(t, "../..", []string{"GOBIN=" + gobin}, "install")
	if code != 0 || !strings.Contains(out, "installed "+filepath.Join(gobin, "hooktap")) {
		t.Fatalf("make install: exit %d\n%s", code, out)
	}
	// As a user would: hooktap found on the PATH.
	cmd := exec.Command("sh", "-c", "hooktap version")
	cmd.Env = append(os.Environ(), "PATH="+gobin+":/usr/bin:/bin")
	v, err := cmd.CombinedOutput()
	if err != nil || !strings.HasPrefix(string(v), "hooktap ") {
		t.Fatalf("hooktap version from the PATH: %v %q", err, v)
	}
}

// TestMakeTestSaysWhatIsMissing runs make test as an unprivileged user on
// a PATH with neither Chromium nor curl: it must stop at once, before any
// go test, with one line that gives the command to run.
func TestMakeTestSaysWhatIsMissing(t *testing.T) {
	if os.Getuid() != 0 {
		t.Fatal("this test runs make as user nobody, which needs root (CI runs as root)")
	}
	// Not t.TempDir: nobody must be able to reach it.
	dir, err := os.MkdirTemp("", "hooktap-maketest-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	os.Chmod(dir, 0o755)
	for _, f := range []string{"Makefile", ".ci/testdeps"} {
		b, err := os.ReadFile(filepath.Join("../..", f))
		if err != nil {
			t.Fatal(err)
		}
		os.MkdirAll(filepath.Dir(filepath.Join(dir, f)), 0o755)
		if err := os.WriteFile(filepath.Join(dir, f), b, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	// A PATH with the tools make test uses, but no browser, no curl, no tmux.
	bin := filepath.Join(dir, "bin")
	os.Mkdir(bin, 0o755)
	for _, tool := range []string{"sh", "make", "id", "apt-get", "go"} {
		p, err := exec.LookPath(tool)
		if err != nil {
			t.Fatalf("%s: %v", tool, err)
		}
		os.Symlink(p, filepath.Join(bin, tool))
	}
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(bin, "make"), "--no-print-directory", "-C", dir, "test")
	cmd.Env = []string{"PATH=" + bin, "HOME=" + dir}
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err = cmd.Run()
	if err == nil {
		t.Fatalf("make test went on without Chromium and curl:\n%s%s", stdout.String(), stderr.String())
	}
	const want = "make test needs chromium curl tmux: run  sudo apt-get install -y --no-install-recommends chromium curl tmux\n"
	lines := strings.SplitAfter(stderr.String(), "\n")
	if lines[0] != want || strings.Contains(stdout.String(), "go test") {
		t.Errorf("%v: stderr %q (want first line %q), stdout %q", err, stderr.String(), want, stdout.String())
	}
}
