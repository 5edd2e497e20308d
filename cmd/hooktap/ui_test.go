package main

import (
	"bytes"
	"context"
	"log"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestUseTUI(t *testing.T) {
	var buf bytes.Buffer
	e := &env{stdout: &buf, getenv: func(string) string { return "" }}
	if useTUI(e, &agentFlags{}) {
		t.Fatal("a buffer is not a terminal")
	}
	f, err := os.Create(filepath.Join(t.TempDir(), "out"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	e.stdout = f
	if useTUI(e, &agentFlags{}) {
		t.Fatal("a regular file is not a terminal")
	}
}

func TestLogToFile(t *testing.T) {
	var screen bytes.Buffer
	db := filepath.Join(t.TempDir(), "data", "hooktap.db")
	e := &env{stdout: &screen, stderr: &screen, getenv: func(string) string { return "" }}
	le, closeLog := logToFile(e, db)
	if again, closeAgain := logToFile(le, db); again != le {
		t.Fatal("a second logToFile opened another file")
	} else {
		closeAgain()
	}
	newLogger(le.stderr, false).Warn("relay connection lost", "err", "boom")
	log.Print("from the standard logger")
	closeLog()
	if screen.Len() != 0 {
		t.Fatalf("logs reached the screen: %q", screen.String())
	}
	b, err := os.ReadFile(filepath.Join(filepath.Dir(db), "hooktap.log"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), "relay connection lost") || !strings.Contains(string(b), "from the standard logger") {
		t.Fatalf("log file: %q", b)
	}
}

func TestTUICommandNeedsTerminal(t *testing.T) {
	var out, errOut bytes.Buffer
	err := run(context.Background(), []string{"tui", "--db", filepath.Join(t.TempDir(), "x.db")}, strings.NewReader(""), &out, &errOut)
	if err == nil || !strings.Contains(err.Error(), "needs a terminal") {
		t.Fatalf("err = %v", err)
	}
	if err := run(context.Background(), []string{"tui", "extra"}, strings.NewReader(""), &out, &errOut); err == nil {
		t.Fatal("tui took an argument")
	} else if _, ok := err.(usageError); !ok {
		t.Fatalf("extra argument: %v is not a usage error", err)
	}
}

func TestWebURL(t *testing.T) {
	for in, want := range map[string]string{"127.0.0.1:4040": "http://127.0.0.1:4040", "[::]:4040": "http://127.0.0.1:4040",
		"0.0.0.0:80": "http://127.0.0.1:80", "[::1]:4040": "http://[::1]:4040"} {
		addr, err := net.ResolveTCPAddr("tcp", in)
		if err != nil {
			t.Fatal(err)
		}
		if got := webURL(addr); got != want {
			t.Errorf("webURL(%q) = %q, want %q", in, got, want)
		}
	}
}
