package harness

import (
	"fmt"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"google.golang.org/protobuf/proto"

	"github.com/outboxnode/outbox/messages"
)

// RejectedError is a command the node answered with CommandRejected: it
// got an answer, so unlike a timeout its outcome is known.
type RejectedError struct {
	Code   messages.RejectCode
	Reason string
}

func (e *RejectedError) Error() string {
	return fmt.Sprintf("rejected (%s): %s", e.Code, e.Reason)
}

// Command sends msg to the coordinator of the node whose remote address is
// node, from this process's Client, and returns the acceptance. A
// rejection is a *RejectedError; any other error (no reply within timeout,
// a dead letter, an unexpected reply) leaves the outcome unknown.
func Command(node string, msg proto.Message, timeout time.Duration) (*messages.CommandAccepted, error) {
	res, err := Client().Root.RequestFuture(actor.NewPID(node, "coordinator"), msg, timeout).Result()
	if err != nil {
		return nil, err
	}
	switch r := res.(type) {
	case *messages.CommandAccepted:
		return r, nil
	case *messages.CommandRejected:
		return nil, &RejectedError{Code: r.GetCode(), Reason: r.GetReason()}
	}
	return nil, fmt.Errorf("unexpected reply %T", res)
}
