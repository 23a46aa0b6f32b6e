//go:build !race

package memtest

// RaceFactor widens RSS bounds under the race detector; 1 without it.
const RaceFactor = 1
