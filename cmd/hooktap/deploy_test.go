package main

import (
	"debug/elf"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The deployment files: the Dockerfile's shape, its binary (make build)
// static, and the systemd unit's command line valid for the real binary.
// .ci/run also runs the image's command and health check with that binary.

func TestDockerfile(t *testing.T) {
	b, err := os.ReadFile("../../Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	df := string(b)
	for _, want := range []string{
		"FROM golang:1.26", " AS build", "RUN make build BIN=/out/hooktap", // the build stage, with make build
		"FROM gcr.io/distroless/static", "USER 65532:65532", "VOLUME /data", "EXPOSE 8789",
		`CMD ["/hooktap", "healthcheck", "http://127.0.0.1:8789/healthz"]`,
		`ENTRYPOINT ["/hooktap"]`, `CMD ["relay", "--addr", "0.0.0.0:8789", "--data", "/data"]`,
	} {
		if !strings.Contains(df, want) {
			t.Errorf("Dockerfile lacks %q", want)
		}
	}
	if strings.Count(df, "\nFROM ") != 2 {
		t.Errorf("Dockerfile: want two stages (build, then the image)")
	}
	// The image's command line is valid: its flags exist (-h after them).
	_, errOut, code := hooktapOut(t, nil, "relay", "--addr", "0.0.0.0:8789", "--data", "/data", "-h")
	if code != 0 {
		t.Errorf("the image's CMD: exit %d %q", code, errOut)
	}
}

func TestImageBinaryIsStatic(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "hooktap")
	if out, code := makeOut(t, "../..", nil, "build", "BIN="+bin); code != 0 {
		t.Fatalf("make build: exit %d\n%s", code, out)
	}
	f, err := elf.Open(bin)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP || p.Type == elf.PT_DYNAMIC {
			t.Fatalf("make build's binary is dynamically linked (%v): it would not run in the distroless image", p.Type)
		}
	}
}

func TestSystemdUnit(t *testing.T) {
	b, err := os.ReadFile("deploy/hooktap-relay.service")
	if err != nil {
		t.Fatal(err)
	}
	var exec string
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "ExecStart="); ok {
			exec = v
		}
	}
	args := strings.Fields(exec)
	if len(args) < 2 || args[0] != "/usr/local/bin/hooktap" || args[1] != "relay" {
		t.Fatalf("ExecStart=%s", exec)
	}
	if _, errOut, code := hooktapOut(t, nil, append(args[1:], "-h")...); code != 0 {
		t.Errorf("ExecStart's flags: exit %d %q", code, errOut)
	}
	for _, want := range []string{"DynamicUser=yes", "StateDirectory=hooktap", "--data /var/lib/hooktap", "Restart=on-failure", "EnvironmentFile="} {
		if !strings.Contains(string(b), want) {
			t.Errorf("unit lacks %q", want)
		}
	}
}
