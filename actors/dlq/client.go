package dlq

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/outboxnode/outbox/actors/publisher"
	"github.com/outboxnode/outbox/messages"
)

var _ publisher.DeadLetters = (*Client)(nil)

// Client gives the publisher the DLQ actor as its dead-letter store. It is
// safe for concurrent use; each call is one request bounded by timeout.
type Client struct {
	root    *actor.RootContext
	pid     *actor.PID
	timeout time.Duration
}

// NewClient returns a Client of the DLQ actor at pid.
func NewClient(root *actor.RootContext, pid *actor.PID, timeout time.Duration) *Client {
	return &Client{root: root, pid: pid, timeout: timeout}
}

// Store implements publisher.DeadLetters.
func (c *Client) Store(ctx context.Context, entries []*messages.DeadLetter) error {
	res, err := request[*messages.DLQStored](ctx, c, &messages.DLQStore{Entries: entries})
	if err != nil {
		return err
	}
	if res.GetError() != "" {
		return errors.New(res.GetError())
	}
	return nil
}

// Pending implements publisher.DeadLetters; entries come oldest first.
func (c *Client) Pending(ctx context.Context, aggregateID string) ([]*messages.DeadLetter, error) {
	res, err := request[*messages.DLQPendingResult](ctx, c, &messages.DLQPending{AggregateId: aggregateID})
	if err != nil {
		return nil, err
	}
	if res.GetError() != "" {
		return nil, errors.New(res.GetError())
	}
	return res.GetEntries(), nil
}

func request[T any](ctx context.Context, c *Client, msg any) (T, error) {
	var zero T
	if err := ctx.Err(); err != nil {
		return zero, err
	}
	r, err := c.root.RequestFuture(c.pid, msg, c.timeout).Result()
	if err != nil {
		return zero, fmt.Errorf("dlq request %T: %w", msg, err)
	}
	res, ok := r.(T)
	if !ok {
		return zero, fmt.Errorf("dlq request %T: unexpected answer %T", msg, r)
	}
	return res, nil
}
