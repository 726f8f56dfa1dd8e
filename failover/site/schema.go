package site

import (
	_ "embed"
	"slices"
)

//go:embed site.schema.json
var schema []byte

// Schema returns the JSON Schema of a site file (draft 2020-12), generated
// from the Go types and their documentation (go test ./failover/site
// -run TestSchema -update rewrites it; the test fails when it is stale).
// Editors use it to check and complete site files: put
// "# yaml-language-server: $schema=<path>/site.schema.json" at the top.
func Schema() []byte { return slices.Clone(schema) }
