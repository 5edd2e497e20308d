//go:build unix

package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
)

// lockRelayData takes an exclusive lock on a relay's data directory for
// this process. Two relays on one buffer each count the channel's seqs in
// memory: the second's commits collide with the first's and fail, while
// senders are answered from the agent. The kernel drops the lock when the
// process ends, kill -9 included.
func lockRelayData(dir string) (release func(), err error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create data directory: %w", err)
	}
	f, err := os.OpenFile(filepath.Join(dir, "relay.lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("another hooktap relay or dev already uses the relay data in %s (give this one its own --data)", dir)
		}
		return nil, fmt.Errorf("lock %s: %w", dir, err)
	}
	return func() { f.Close() }, nil
}

// lockStore holds a lock on an agent's (dev's or listen's) store file (created when
// missing) for this process, so that a second agent is told to use its own
// instead of silently recording into the same one. It is flock(2), which
// SQLite's own locks (fcntl) do not see.
func lockStore(db string) (release func(), err error) {
	if err := os.MkdirAll(filepath.Dir(db), 0o700); err != nil {
		return nil, fmt.Errorf("create data directory: %w", err)
	}
	f, err := os.OpenFile(db, os.O_CREATE|os.O_RDONLY, 0o600)
	if err != nil {
		return nil, err // the store's open says why, in its words
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		return func() {}, nil // inUse told the user; a race lost is no reason to stop
	}
	return func() { f.Close() }, nil
}

// inUse reports whether another process holds the lock on path (false when
// there is no such file).
func inUse(path string) bool {
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close() // drops the probe's lock
	return errors.Is(syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB), syscall.EWOULDBLOCK)
}
