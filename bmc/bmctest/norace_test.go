//go:build !race

package bmctest_test

const raceEnabled = false
