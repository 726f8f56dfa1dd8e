//go:build race

package bmctest_test

const raceEnabled = true
