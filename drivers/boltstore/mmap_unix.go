//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package boltstore

import (
	"fmt"
	"os"
	"syscall"
)

// fileReader maps f read-only: verifying a large file then costs no copy
// and no system call per page. Callers read only below size.
func fileReader(f *os.File, size int64) (read func(off, n int64) ([]byte, error), release func(), err error) {
	if int64(int(size)) != size {
		return readAt(f), func() {}, nil
	}
	data, err := syscall.Mmap(int(f.Fd()), 0, int(size), syscall.PROT_READ, syscall.MAP_SHARED)
	if err != nil {
		return readAt(f), func() {}, nil // fall back to reading
	}
	read = func(off, n int64) ([]byte, error) {
		if off < 0 || n < 0 || off+n > int64(len(data)) {
			return nil, fmt.Errorf("bytes [%d, %d) are outside the %d-byte file: %w", off, off+n, len(data), ErrCorrupt)
		}
		return data[off : off+n : off+n], nil
	}
	return read, func() { _ = syscall.Munmap(data) }, nil
}
