//go:build linux

package search

import (
	"runtime"

	"golang.org/x/sys/unix"
)

// threadCPU runs f on one locked OS thread and returns the CPU time that
// thread spent, in nanoseconds: on a loaded machine a steadier measure
// than wall time (it leaves out the garbage collector's background work).
// It reads the thread's CPU clock (the scheduler's exact runtime), not
// getrusage: the kernel scales getrusage's tick samples to the runtime
// and keeps them from going backwards, so a call of a few milliseconds
// could read 0.
func threadCPU(f func()) int64 {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	var a, b unix.Timespec
	if unix.ClockGettime(unix.CLOCK_THREAD_CPUTIME_ID, &a) != nil {
		f()
		return 0
	}
	f()
	if unix.ClockGettime(unix.CLOCK_THREAD_CPUTIME_ID, &b) != nil {
		return 0
	}
	return b.Nano() - a.Nano()
}
