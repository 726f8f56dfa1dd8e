//go:build !unix

package search

// cpuTime is not measured on this platform.
func cpuTime() int64 { return 0 }
