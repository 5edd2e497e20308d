// Package testenv is what tests of hooktap's packages share: a small file
// system of their own to fill up (a tmpfs mounted for the test), and a log
// to read while the code under test writes it. Only tests import it.
package testenv

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"testing"
	"time"
)

// AsRoot reports whether the calling test may mount file systems. A test
// that is not root runs itself again under `unshare -rm` (root in user and
// mount namespaces of its own, which is all a tmpfs needs), reports that
// run's result and gets false: it returns at once.
func AsRoot(t *testing.T) bool {
	t.Helper()
	if os.Geteuid() == 0 {
		return true
	}
	if os.Getenv("HOOKTAP_TEST_UNSHARED") != "" {
		t.Fatal("not root even under unshare -rm")
	}
	cmd := exec.Command("unshare", "-rm", os.Args[0], "-test.run", "^"+t.Name()+"$", "-test.count=1", "-test.v")
	cmd.Env = append(os.Environ(), "HOOKTAP_TEST_UNSHARED=1")
	out, err := cmd.CombinedOutput()
	t.Logf("under unshare -rm:\n%s", out)
	if err != nil {
		t.Fatalf("unshare -rm: %v (the test mounts a tmpfs: run it as root, or where unprivileged user namespaces are allowed)", err)
	}
	return false
}

// SmallDisk mounts a tmpfs of size bytes for the test and returns its path.
func SmallDisk(t *testing.T, size int) string {
	t.Helper()
	dir := t.TempDir()
	if err := syscall.Mount("hooktap-test", dir, "tmpfs", 0, fmt.Sprintf("size=%d,mode=0700", size)); err != nil {
		t.Fatalf("mount tmpfs: %v", err)
	}
	t.Cleanup(func() { syscall.Unmount(dir, syscall.MNT_DETACH) })
	return dir
}

// FillDisk writes path until the file system has no room left.
func FillDisk(t *testing.T, path string) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, chunk := range []int{64 << 10, 4 << 10, 512} {
		b := make([]byte, chunk)
		for {
			if _, err := f.Write(b); err != nil {
				if !errors.Is(err, syscall.ENOSPC) {
					t.Fatal(err)
				}
				break
			}
		}
	}
}

// Log is a log destination that tests read while it is written.
type Log struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *Log) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *Log) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// Eventually polls cond until it holds, and fails the test after timeout:
// for state that the code under test moves without a signal to wait on.
func Eventually(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v", what, timeout)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
