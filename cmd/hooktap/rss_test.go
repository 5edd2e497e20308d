package main

import (
	"fmt"
	"os"
	"strings"
	"testing"
)

// residentKiB reads a process's resident set size from /proc.
func residentKiB(t *testing.T, pid int) int {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "VmRSS:") {
			var kib int
			fmt.Sscanf(strings.TrimPrefix(l, "VmRSS:"), "%d", &kib)
			return kib
		}
	}
	t.Fatal("no VmRSS")
	return 0
}
