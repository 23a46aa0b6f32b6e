// Package admission is the node-wide switch at the front of the command
// path: outboxctl -> coordinator -> orders -> order/<id> each ask the Gate
// before they take a command, and the node closes it first thing when it
// begins to stop, so that from that instant every command is refused with
// REJECT_CODE_SHUTTING_DOWN instead of being routed, spawned or committed.
package admission

import (
	"sync/atomic"

	"github.com/outboxnode/outbox/messages"
)

// Gate is open while the node accepts commands. It is safe for concurrent
// use; the zero value and a nil *Gate are open, and a nil *Gate never closes.
type Gate struct {
	closed atomic.Bool
}

// Close turns every later command away; it reports whether this call
// closed the gate (false when it was closed already).
func (g *Gate) Close() bool {
	return g.closed.CompareAndSwap(false, true)
}

// Closed reports whether the node has begun to stop.
func (g *Gate) Closed() bool {
	return g != nil && g.closed.Load()
}

// Refusal is the reply to a command that reaches a stopping node.
func Refusal() *messages.CommandRejected {
	return &messages.CommandRejected{
		Code:   messages.RejectCode_REJECT_CODE_SHUTTING_DOWN,
		Reason: "node is shutting down: nothing was written; send the command again once a node is up",
	}
}
