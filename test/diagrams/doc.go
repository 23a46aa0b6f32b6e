// Package diagrams checks the Mermaid diagrams of the documentation: every
// ```mermaid block in README.md and docs/*.md must render with the pinned
// Mermaid CLI of docs/diagrams (mmdc driving Debian's chromium), and each
// block of docs/diagrams.md must have its rendered SVG committed under
// docs/diagrams/ and linked below it. With DIAGRAMS_UPDATE=1 (make diagrams)
// the test writes those SVGs instead of only rendering them to a temp dir.
package diagrams
