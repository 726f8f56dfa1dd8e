// Package mockups holds the DMTF Redfish mockup payloads that the test
// servers serve and the tests parse: real-world Redfish JSON that nobody
// on this project wrote, embedded in the package from its testdata
// directory, so every test finds them in a plain clone.
//
// The files are a subset, unmodified, of the mockups the DMTF publishes in
// DMTF/Redfish-Publications (testdata/README.md names the commit and how
// the subset was chosen), under the BSD 3-Clause licence in
// testdata/LICENSE.md. A test that needs another file copies it there from
// the same publication.
//
// Import it from a test or a test server that serves or reads those
// payloads (drivers/redfish/redfishtest, internal/redfishbmc); nothing
// outside tests should.
package mockups

import (
	"embed"
	"io/fs"
)

// Mockup directory names (under FS's root).
const (
	// BladedPartitions: blades composed into multi-blade partitions.
	BladedPartitions = "public-bladed-partitions"
	// Composability: Redfish composition of resource blocks.
	Composability = "public-composability"
	// Rackmount1: a rack server's BMC (Systems, Managers, LogServices).
	Rackmount1 = "public-rackmount1"
	// DSP2046Examples: one example payload per schema.
	DSP2046Examples = "DSP2046-examples"
)

//go:embed testdata
var files embed.FS

// FS returns the mockups: a directory per mockup (Rackmount1, ...), each
// laid out as the service's URIs below /redfish/v1 with an index.json
// per resource, and DSP2046Examples.
func FS() fs.FS {
	sub, err := fs.Sub(files, "testdata")
	if err != nil {
		panic(err) // "testdata" is a valid path: cannot happen
	}
	return sub
}

// ReadFile returns the file at name (slash-separated, below FS's root,
// e.g. "public-rackmount1/Systems/index.json").
func ReadFile(name string) ([]byte, error) {
	return fs.ReadFile(FS(), name)
}
