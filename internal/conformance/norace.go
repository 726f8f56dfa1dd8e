//go:build !race

package conformance

// RaceEnabled reports whether the binary was built with -race.
const RaceEnabled = false
