//go:build race

package memtest

// RaceFactor widens RSS bounds under the race detector, whose shadow
// memory multiplies the heap's footprint (by 5 to 10 according to its
// documentation).
const RaceFactor = 4
