//go:build race

package racefree

const detector = true
