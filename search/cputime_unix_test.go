//go:build unix

package search

import "syscall"

// cpuTime is the process's user+system CPU time in nanoseconds: on a
// shared machine it is a steadier measure than wall time (it includes the
// garbage collector's work).
func cpuTime() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}
