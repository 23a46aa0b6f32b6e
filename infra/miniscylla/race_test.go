//go:build race

package miniscylla

// rssFactor widens RSS bounds under the race detector, whose shadow memory
// multiplies the heap's footprint (by 5 to 10 according to its documentation).
const rssFactor = 4
