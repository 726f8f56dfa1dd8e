package ovstest

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"syscall"
)

// InNetns runs f on an operating-system thread that has entered the
// network namespace netns (a Switch's Netns or a Host's), and returns f's
// error. Sockets that f opens belong to that namespace for their whole
// life, whichever goroutine uses them later. The thread is never given
// back to other goroutines: it ends with f.
func InNetns(netns string, f func() error) error {
	errc := make(chan error, 1)
	go func() {
		// Locked and never unlocked: when this goroutine returns, the
		// runtime ends the thread instead of reusing it elsewhere.
		runtime.LockOSThread()
		ns, err := os.Open(filepath.Join("/run/netns", netns))
		if err != nil {
			errc <- fmt.Errorf("ovstest: open namespace %s: %w", netns, err)
			return
		}
		_, _, errno := syscall.RawSyscall(sysSetns, ns.Fd(), syscall.CLONE_NEWNET, 0)
		ns.Close()
		if errno != 0 {
			errc <- fmt.Errorf("ovstest: enter namespace %s: %w", netns, errno)
			return
		}
		errc <- f()
	}()
	return <-errc
}
