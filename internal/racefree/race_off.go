//go:build !race

package racefree

const detector = false
