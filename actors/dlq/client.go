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

// request asks the DLQ actor and waits for its answer, the timeout or the
// end of ctx, whichever comes first: a stopping publisher cancels ctx and
// must not wait for an actor that is stopping too. A future takes no
// context, so its result is awaited aside; that goroutine ends with the
// timeout at the latest.
func request[T any](ctx context.Context, c *Client, msg any) (T, error) {
	var zero T
	if err := ctx.Err(); err != nil {
		return zero, fmt.Errorf("dlq request %T: %w", msg, err)
	}
	type answer struct {
		res any
		err error
	}
	f := c.root.RequestFuture(c.pid, msg, c.timeout)
	done := make(chan answer, 1)
	go func() {
		res, err := f.Result()
		done <- answer{res, err}
	}()
	var a answer
	select {
	case a = <-done:
	case <-ctx.Done():
		return zero, fmt.Errorf("dlq request %T: %w", msg, ctx.Err())
	}
	if a.err != nil {
		return zero, fmt.Errorf("dlq request %T: %w", msg, a.err)
	}
	res, ok := a.res.(T)
	if !ok {
		return zero, fmt.Errorf("dlq request %T: unexpected answer %T", msg, a.res)
	}
	return res, nil
}
