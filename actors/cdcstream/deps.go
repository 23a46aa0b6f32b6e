package cdcstream

import (
	"context"
	"time"

	"github.com/outboxnode/outbox/messages"
)

// Delivery is one outbox event read from the CDC log.
type Delivery struct {
	// Stream names the CDC stream it was read from (metrics label).
	Stream string
	// Request is what the publisher takes: the event, or what could be read
	// of an undecodable row with its decode error.
	Request *messages.PublishEvent
	// Ack tells the source that the event is published, dead-lettered or
	// parked, so its stream may be checkpointed past it. Safe to call from
	// any goroutine; calls after the first do nothing.
	Ack func()
}

// Source tails the outbox CDC log (infra/cdc.Source).
type Source interface {
	// Run reads until ctx ends (then it returns nil) or it fails, calling
	// deliver for every event in stream order. Run blocks the reader while
	// its in-flight window is full, so deliver itself must not block.
	Run(ctx context.Context, deliver func(Delivery)) error
	// Flush saves every stream's progress up to its newest event such that
	// it and every earlier event were acknowledged.
	Flush(ctx context.Context) error
	// Lags reports, per stream, how long the oldest committed event that
	// is not acknowledged has been committed, read or not yet read (zero
	// when everything committed is acknowledged).
	Lags(now time.Time) map[string]time.Duration
	// ReadErr is why reading the CDC log fails while Run goes on (the
	// reader retries failed queries itself), nil while reads succeed.
	ReadErr() error
}

// Metrics receives the stream's measurements; infra/metrics.Metrics
// satisfies it.
type Metrics interface {
	// CDCLag sets the lag of one CDC stream (cdc_lag_seconds{stream}).
	CDCLag(stream string, lag time.Duration)
}

type nopMetrics struct{}

func (nopMetrics) CDCLag(string, time.Duration) {}
