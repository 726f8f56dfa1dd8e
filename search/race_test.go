//go:build race

package search

// raceEnabled reports whether the test binary was built with -race.
const raceEnabled = true
