package main

import (
	"context"
	"fmt"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/scylladb/gocqlx/v2"
	"google.golang.org/protobuf/proto"

	"github.com/outboxnode/outbox/actors/coordinator"
	"github.com/outboxnode/outbox/actors/dlq"
	"github.com/outboxnode/outbox/actors/health"
	"github.com/outboxnode/outbox/actors/publisher"
	"github.com/outboxnode/outbox/infra/kafka"
	"github.com/outboxnode/outbox/infra/metrics"
	"github.com/outboxnode/outbox/infra/resilience"
	"github.com/outboxnode/outbox/infra/scylla"
	"github.com/outboxnode/outbox/messages"
)

// Names of the relay children under the coordinator; their PIDs are
// predictable, which breaks the cycle publisher <-> dlq.
const (
	publisherName = "publisher"
	dlqName       = "dlq"
)

// relay is the Kafka side of the node: the producer and retry + breaker
// policy (infra), and the publisher and DLQ actors over them.
type relay struct {
	children []coordinator.Child
	breaker  health.Probe
}

// buildRelay connects the Kafka producer and builds the publisher and DLQ
// children; the producer is closed at shutdown, after the actor tree.
func (n *node) buildRelay(sys *actor.ActorSystem, session gocqlx.Session, m *metrics.Metrics) (*relay, error) {
	r := n.cfg.Relay
	producer, err := kafka.New(kafka.Config{
		Brokers:       n.cfg.KafkaBrokers(),
		TopicTemplate: r.TopicTemplate,
		Timeout:       n.cfg.Node.RequestTimeout,
		Logger:        n.logger.With("component", "kafka"),
	})
	if err != nil {
		return nil, err
	}
	n.onShutdown("kafka producer", func(context.Context) error { return producer.Close() })
	policy, err := resilience.New(resilience.Config{
		MaxAttempts:      r.RetryAttempts,
		BackoffMin:       r.RetryBackoffMin,
		BackoffMax:       r.RetryBackoffMax,
		FailureThreshold: r.BreakerFailures,
		OpenDelay:        r.BreakerOpenDelay,
		SuccessThreshold: r.BreakerSuccesses,
	}, resilience.WithPermanent(kafka.IsPermanent), resilience.WithListener(m))
	if err != nil {
		return nil, err
	}
	publisherPID := sys.NewLocalPID(coordinator.Name + "/" + publisherName)
	dlqPID := sys.NewLocalPID(coordinator.Name + "/" + dlqName)
	publisherProps, err := publisher.Props(publisher.Config{}, publisher.Deps{
		Producer:    producer,
		Policy:      policy,
		DeadLetters: dlq.NewClient(sys.Root, dlqPID, n.cfg.Scylla.Timeout),
		IsPermanent: kafka.IsPermanent,
		Metrics:     m,
	})
	if err != nil {
		return nil, err
	}
	dlqProps, err := dlq.Props(dlq.Config{StoreTimeout: n.cfg.Scylla.Timeout}, scylla.NewDLQStore(session, n.cfg.Scylla.Keyspace), publisherPID)
	if err != nil {
		return nil, err
	}
	return &relay{
		children: []coordinator.Child{
			{Name: dlqName, Props: dlqProps, Routes: []proto.Message{&messages.DLQList{}, &messages.DLQReplay{}, &messages.DLQSkip{}}},
			{Name: publisherName, Props: publisherProps},
		},
		breaker: breakerProbe{policy},
	}, nil
}

// breakerProbe reports the publish circuit breaker: closed is ok; open or
// half-open is degraded (events wait, nothing is lost).
type breakerProbe struct{ policy *resilience.Policy }

var _ health.Probe = breakerProbe{}

func (breakerProbe) Name() string { return "breaker" }

func (b breakerProbe) Check(context.Context) (messages.HealthStatus, string) {
	s := b.policy.State()
	if s == resilience.StateClosed {
		return messages.HealthStatus_HEALTH_STATUS_OK, s.String()
	}
	return messages.HealthStatus_HEALTH_STATUS_DEGRADED, fmt.Sprintf("%s: publishing paused", s)
}
