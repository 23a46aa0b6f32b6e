// Package docs keeps the learner-facing material honest: the Makefile's `make help` list and its
// Docker checks, and docs/walkthrough.md, whose named symbols and quoted excerpts must match the
// code they describe. It is not on the data path; it fails when the docs drift from the code.
package docs
