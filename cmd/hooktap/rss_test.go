package main

import (
	"fmt"
	"os"
	"strings"
	"testing"
)

// residentKiB reads a process's resident set size from /proc.
func residentKiB(t *testing.T, pid int) int { return procStatusKiB(t, pid, "VmRSS:") }

// peakKiB reads a process's peak resident set size from /proc.
func peakKiB(t *testing.T, pid int) int { return procStatusKiB(t, pid, "VmHWM:") }

func procStatusKiB(t *testing.T, pid int, field string) int {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, field) {
			var kib int
			fmt.Sscanf(strings.TrimPrefix(l, field), "%d", &kib)
			return kib
		}
	}
	t.Fatalf("no %s in /proc/%d/status", field, pid)
	return 0
}
