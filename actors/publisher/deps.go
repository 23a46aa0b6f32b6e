package publisher

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/outboxnode/outbox/messages"
)

// Producer publishes events to Kafka (infra/kafka behind an adapter).
type Producer interface {
	// Publish sends events as one batch and returns once each is
	// acknowledged or failed: one error per event, in order, nil when Kafka
	// acknowledged it.
	Publish(ctx context.Context, events []*messages.OutboxEvent) []error
	// Topic names the topic ev is published to (kept with its dead letter).
	Topic(ev *messages.OutboxEvent) string
}

// Policy runs one publish attempt under retry and circuit breaker
// (infra/resilience.Policy). It returns nil once fn succeeded and an error
// when it gave up (attempts exhausted, breaker open, ctx done).
type Policy interface {
	Run(ctx context.Context, operation string, fn func(context.Context) error) error
}

// DeadLetters stores what cannot be published (the DLQ actor, through
// dlq.Client).
type DeadLetters interface {
	// Store inserts or replaces entries, keyed by event id; it returns nil
	// only once every entry is durable.
	Store(ctx context.Context, entries []*messages.DeadLetter) error
	// Pending returns the entries still blocking an aggregate (state dead or
	// parked), of aggregateID or of all aggregates when it is empty.
	Pending(ctx context.Context, aggregateID string) ([]*messages.DeadLetter, error)
}

// Metrics receives the publisher's measurements; infra/metrics.Metrics
// satisfies it.
type Metrics interface {
	// CDCEventProcessed counts one event acked to the stream, whatever the
	// outcome (cdc_events_processed_total).
	CDCEventProcessed()
	// DeadLettered counts one event entering the DLQ, dead or parked
	// (dlq_messages_total).
	DeadLettered()
	// Published observes commit-to-publish latency: from the event's
	// occurred_at to Kafka's acknowledgement.
	Published(committedAt, ackedAt time.Time)
}

// Deps are the publisher's collaborators; all but Metrics are required.
type Deps struct {
	Producer    Producer
	Policy      Policy
	DeadLetters DeadLetters
	// IsPermanent tells a per-record error (record too large, invalid
	// topic...) that dead-letters the event from anything else, which is
	// treated as broker unavailability: the batch pauses and is retried,
	// never dead-lettered.
	IsPermanent func(error) bool
	Metrics     Metrics
}

// ErrMissingDependency is returned by Props for a nil required dependency.
var ErrMissingDependency = errors.New("publisher: missing dependency")

func (d *Deps) validate() error {
	switch {
	case d.Producer == nil:
		return fmt.Errorf("%w: producer", ErrMissingDependency)
	case d.Policy == nil:
		return fmt.Errorf("%w: policy", ErrMissingDependency)
	case d.DeadLetters == nil:
		return fmt.Errorf("%w: dead letters", ErrMissingDependency)
	case d.IsPermanent == nil:
		return fmt.Errorf("%w: permanent error classifier", ErrMissingDependency)
	}
	if d.Metrics == nil {
		d.Metrics = nopMetrics{}
	}
	return nil
}

type nopMetrics struct{}

func (nopMetrics) CDCEventProcessed()             {}
func (nopMetrics) DeadLettered()                  {}
func (nopMetrics) Published(time.Time, time.Time) {}
