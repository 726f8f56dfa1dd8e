//go:build linux

package search

import (
	"runtime"
	"syscall"
)

// threadCPU runs f on one locked OS thread and returns the CPU time that
// thread spent, in nanoseconds: on a loaded machine a steadier measure
// than wall time (it leaves out the garbage collector's background work).
func threadCPU(f func()) int64 {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	var a, b syscall.Rusage
	const rusageThread = 1
	if syscall.Getrusage(rusageThread, &a) != nil {
		f()
		return 0
	}
	f()
	if syscall.Getrusage(rusageThread, &b) != nil {
		return 0
	}
	return b.Utime.Nano() + b.Stime.Nano() - a.Utime.Nano() - a.Stime.Nano()
}
