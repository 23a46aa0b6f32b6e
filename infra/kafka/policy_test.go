package kafka_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/outboxnode/outbox/infra/kafka"
	"github.com/outboxnode/outbox/infra/minikafka"
	"github.com/outboxnode/outbox/infra/resilience"
	"github.com/outboxnode/outbox/messages"
)

// The failure semantics of docs/architecture.md at the infra level: Publish inside
// the resilience policy with kafka's classification.
func TestPolicyAroundPublish(t *testing.T) {
	b := startBroker(t, minikafka.Config{Topics: []string{"OrderCreated"}})
	p := newProducer(t, kafka.Config{Brokers: []string{b.Addr()}, SendRetries: 1, RetryBackoff: 10 * time.Millisecond, Timeout: time.Second, DialTimeout: time.Second})
	policy, err := resilience.New(resilience.Config{
		BackoffMin: time.Millisecond, BackoffMax: 5 * time.Millisecond, OpenDelay: time.Hour,
	}, resilience.WithPermanent(kafka.IsPermanent))
	if err != nil {
		t.Fatal(err)
	}
	attempts := 0
	run := func(evs []*messages.OutboxEvent) error {
		return policy.Run(context.Background(), "publish", func(ctx context.Context) error {
			attempts++
			return errors.Join(p.Publish(ctx, evs)...)
		})
	}

	big := events(1, 1, "OrderCreated")
	big[0].Payload = make([]byte, 2<<20)
	if err := run(big); !kafka.IsPermanent(err) || attempts != 1 {
		t.Fatalf("too large: err = %v after %d attempts, want permanent after 1", err, attempts)
	}

	if err := b.SetUnavailable(true); err != nil {
		t.Fatal(err)
	}
	attempts = 0
	err = run(events(2, 2, "OrderCreated"))
	if !errors.Is(err, resilience.ErrRetriesExhausted) || !kafka.IsUnavailable(err) || attempts != 5 {
		t.Fatalf("outage: err = %v after %d attempts, want unavailable after 5", err, attempts)
	}
	if policy.State() != resilience.StateOpen {
		t.Fatalf("breaker %v after 5 consecutive unavailable attempts, want open", policy.State())
	}
	if err := run(events(2, 2, "OrderCreated")); !errors.Is(err, resilience.ErrOpen) || !kafka.IsUnavailable(err) || attempts != 5 {
		t.Fatalf("open breaker: err = %v, attempts %d; want ErrOpen, unavailable, no attempt", err, attempts)
	}
}
