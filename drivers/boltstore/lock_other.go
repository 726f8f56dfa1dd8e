//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package boltstore

import (
	"os"
	"time"
)

// lockShared does nothing where flock is not available: Open verifies
// the file without the lock (bbolt then takes its own).
func lockShared(*os.File, time.Duration) (func(), error) { return func() {}, nil }

// fileReader reads f through ReadAt where there is no mmap.
func fileReader(f *os.File, size int64) (func(off, n int64) ([]byte, error), func(), error) {
	return readAt(f), func() {}, nil
}
