// Package gogc sets the Go garbage collector's target for the processes in
// the data path (outbox-node, devstack) before they start: GOGC=Default
// unless the environment sets GOGC.
//
// Under load the collector took a fifth of a node's CPU at Go's default of
// 100 (every command allocates its driver frames, its CDC rows and its
// Kafka record). Letting the heap grow to three times what is live instead
// of two halves the collections, for up to half again the heap; GOMEMLIMIT
// still caps the heap where memory is tight (docs/operations.md). The
// target in effect is exported as go_gc_gogc_percent.
package gogc

import "runtime/debug"

// Default is the GOGC percentage applied when the environment sets none.
const Default = 200

// Apply sets the collector's target to Default unless getenv("GOGC") is
// set, which the runtime has applied already (including "off"). It returns
// whether it set the target.
func Apply(getenv func(string) string) bool {
	if getenv("GOGC") != "" {
		return false
	}
	debug.SetGCPercent(Default)
	return true
}
