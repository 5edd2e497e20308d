//go:build !unix

package provider

import "os"

// lockDir only creates dir where there is no flock: two emulators on one
// state would both send retries, so run one per --data.
func lockDir(dir string) (func(), error) {
	return func() {}, os.MkdirAll(dir, 0o700)
}
