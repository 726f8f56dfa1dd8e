//go:build !linux

package ovstest

import (
	"fmt"
	"runtime"
)

// InNetns needs Linux network namespaces; elsewhere it fails.
func InNetns(netns string, f func() error) error {
	return fmt.Errorf("ovstest: network namespaces need Linux, not %s", runtime.GOOS)
}
