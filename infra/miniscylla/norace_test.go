//go:build !race

package miniscylla

// rssFactor widens RSS bounds under the race detector; 1 without it.
const rssFactor = 1
