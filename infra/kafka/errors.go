package kafka

import (
	"context"
	"errors"
	"fmt"

	"github.com/IBM/sarama"
	"github.com/eapache/go-resiliency/breaker"
)

// Kind classifies a publish failure by what the caller should do about it.
type Kind int

// Failure kinds.
const (
	// KindUnavailable: the broker could not take the record now (network
	// error, timeout, no leader, not enough replicas, breaker open...).
	// Retry later; never dead-letter for this.
	KindUnavailable Kind = iota + 1
	// KindPermanent: this record can never be published as it is (too
	// large, invalid topic, unknown topic, undecodable event). Dead-letter it.
	KindPermanent
	// KindCanceled: the publish was abandoned before an outcome was known
	// (context done or producer closed); the record may still be delivered.
	KindCanceled
)

// String returns "unavailable", "permanent" or "canceled".
func (k Kind) String() string {
	switch k {
	case KindUnavailable:
		return "unavailable"
	case KindPermanent:
		return "permanent"
	case KindCanceled:
		return "canceled"
	}
	return "none"
}

// Sentinel errors raised by this package rather than by the broker.
var (
	// ErrInvalidEvent: the event lacks a field the record needs.
	ErrInvalidEvent = errors.New("invalid outbox event")
	// ErrInvalidTopic: the topic template produced an illegal Kafka topic name.
	ErrInvalidTopic = errors.New("invalid topic")
	// ErrClosed: Publish was called on, or interrupted by, a closed Producer.
	ErrClosed = errors.New("kafka producer closed")
	// ErrNotConnected: no broker has been reached since the producer was
	// created; records fail as KindUnavailable until one is.
	ErrNotConnected = errors.New("kafka not connected yet")
)

// PublishError is the per-record error of Publish: Kind says what to do,
// Topic where it was going ("" when not known yet), Err why.
type PublishError struct {
	Kind  Kind
	Topic string
	Err   error
}

// Error names the topic (when known), the kind and the cause.
func (e *PublishError) Error() string {
	if e.Topic == "" { // not mapped or not sent yet
		return fmt.Sprintf("publish (%s): %v", e.Kind, e.Err)
	}
	return fmt.Sprintf("publish to %q (%s): %v", e.Topic, e.Kind, e.Err)
}

// Unwrap returns the cause, so errors.Is matches sarama's errors.
func (e *PublishError) Unwrap() error { return e.Err }

// permanentCodes are the broker answers that concern the record itself, so
// resending it cannot help. UNKNOWN_TOPIC_OR_PARTITION is in: Kafka calls it
// retriable because metadata propagates, but sarama already retried it, and
// with auto-creation off it means the event type has no topic; dead-lettering
// keeps the other event types flowing and the DLQ replay publishes it once
// the topic exists. Authorization errors are left out: they hit every record
// alike, and pausing is better than dead-lettering the whole stream.
var permanentCodes = map[sarama.KError]bool{
	sarama.ErrMessageSizeTooLarge:     true,
	sarama.ErrMessageSetSizeTooLarge:  true,
	sarama.ErrInvalidTopic:            true,
	sarama.ErrInvalidRecord:           true,
	sarama.ErrInvalidTimestamp:        true,
	sarama.ErrUnknownTopicOrPartition: true,
}

// Classify returns the Kind of err, 0 for nil. It is the one place that maps
// errors to kinds: anything it does not know is KindUnavailable, because a
// pause loses nothing while a wrong dead letter skips an event.
func Classify(err error) Kind {
	var (
		pe   *PublishError
		kerr sarama.KError
		cerr sarama.ConfigurationError
	)
	switch {
	case err == nil:
		return 0
	case errors.As(err, &pe):
		return pe.Kind
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded), errors.Is(err, ErrClosed):
		return KindCanceled
	case errors.Is(err, ErrInvalidEvent), errors.Is(err, ErrInvalidTopic):
		return KindPermanent
	case errors.As(err, &cerr):
		// Per-record client-side checks, e.g. larger than Producer.MaxMessageBytes.
		return KindPermanent
	case errors.As(err, &kerr) && permanentCodes[kerr]:
		return KindPermanent
	}
	return KindUnavailable
}

// IsUnavailable reports whether err means the broker is unavailable: retry,
// count it against the breaker, and do not dead-letter.
func IsUnavailable(err error) bool { return Classify(err) == KindUnavailable }

// IsPermanent reports whether err means the record can never be published.
func IsPermanent(err error) bool { return Classify(err) == KindPermanent }

// unreachable reports whether a record failed because no broker answered
// (network error, timeout, no broker left), as opposed to a broker's own
// answer (an error code) or sarama's per-partition breaker, which stays open
// for a while after the brokers are back: only the former counts as the
// brokers lost.
func unreachable(err error) bool {
	var kerr sarama.KError
	return Classify(err) == KindUnavailable && !errors.As(err, &kerr) && !errors.Is(err, breaker.ErrBreakerOpen)
}
