// Package docs keeps the learner-facing material honest: the Makefile's `make help` list and its
// Docker checks, docs/walkthrough.md, whose named symbols and quoted excerpts must match the
// code they describe, and docs/tutorial.md, whose commands it runs against the built binaries
// (tutorial_test.go). It is not on the data path; it fails when the docs drift from the code.
package docs
