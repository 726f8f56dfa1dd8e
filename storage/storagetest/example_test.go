package storagetest_test

import (
	"fmt"
	"testing"

	"github.com/coldstandby/coldstandby/storage"
	"github.com/coldstandby/coldstandby/storage/storagetest"
)

// A driver's test file runs the suite with a function that builds a fresh
// array and driver (here the in-memory reference of this package's tests).
func ExampleRun() {
	var t *testing.T // the driver's TestConformance(t *testing.T) receives it; compiled, not run
	storagetest.Run(t, func(t *testing.T) storagetest.Harness {
		return &harness{a: newArray()}
	})
}

// Harnesses make hosts from initiators no array has seen.
func ExampleInitiators() {
	host := storagetest.Initiators(storage.FC, 2)
	fmt.Println(len(host), host[0].Kind(), host[0] != host[1])
	fmt.Println(storagetest.Initiators(storage.ISCSI, 1)[0].Kind())
	// Output:
	// 2 fc true
	// iscsi
}
