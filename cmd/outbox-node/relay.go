package main

import (
	"context"
	"fmt"
	"strings"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/gocql/gocql"
	"github.com/scylladb/gocqlx/v2"
	"google.golang.org/protobuf/proto"

	"github.com/outboxnode/outbox/actors/cdcstream"
	"github.com/outboxnode/outbox/actors/coordinator"
	"github.com/outboxnode/outbox/actors/dlq"
	"github.com/outboxnode/outbox/actors/health"
	"github.com/outboxnode/outbox/actors/publisher"
	"github.com/outboxnode/outbox/actors/supervision"
	"github.com/outboxnode/outbox/infra/cdc"
	"github.com/outboxnode/outbox/infra/config"
	"github.com/outboxnode/outbox/infra/kafka"
	"github.com/outboxnode/outbox/infra/metrics"
	"github.com/outboxnode/outbox/infra/outboxpoll"
	"github.com/outboxnode/outbox/infra/resilience"
	"github.com/outboxnode/outbox/infra/scylla"
	"github.com/outboxnode/outbox/messages"
)

// Names of the relay children under the coordinator; their PIDs are
// predictable, which breaks the cycle publisher <-> dlq: the publisher is
// the cdcstream's child, "coordinator/cdcstream/publisher".
const (
	cdcstreamName = "cdcstream"
	dlqName       = "dlq"
)

// relay is the CDC -> Kafka side of the node: the CDC source, the producer
// and retry + breaker policy (infra), and the cdcstream (with its publisher
// child) and DLQ actors over them.
type relay struct {
	children []coordinator.Child
	// probes report the brokers, the breaker and the CDC lag to the Health
	// actor.
	probes []health.Probe
}

// buildRelay connects the Kafka producer and builds the cdcstream (owning
// the CDC reader and the publisher) and DLQ children; the producer is
// closed at shutdown, after the actor tree.
func (n *node) buildRelay(sys *actor.ActorSystem, session gocqlx.Session, m *metrics.Metrics) (*relay, error) {
	r := n.cfg.Relay
	producer, err := kafka.New(kafka.Config{
		Brokers:       n.cfg.KafkaBrokers(),
		TopicTemplate: r.TopicTemplate,
		Timeout:       n.cfg.Node.RequestTimeout,
		Security:      n.cfg.Kafka.Security,
		Logger:        n.logger.With("component", "kafka"),
	})
	if err != nil {
		return nil, err
	}
	n.onShutdown("kafka producer", func(context.Context) error { return producer.Close() })
	policy, err := resilience.New(r.Retry, resilience.WithPermanent(kafka.IsPermanent), resilience.WithListener(m), resilience.WithLogger(n.logger.With("component", "breaker")))
	if err != nil {
		return nil, err
	}
	streamPID := sys.NewLocalPID(coordinator.Name + "/" + cdcstreamName)
	publisherPID := sys.NewLocalPID(streamPID.GetId() + "/" + cdcstream.PublisherName)
	dlqPID := sys.NewLocalPID(coordinator.Name + "/" + dlqName)
	publisherProps, err := publisher.Props(r.Publish, publisher.Deps{
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
	streamProps, err := n.streamProps(session, supervision.Observe(publisherProps), m)
	if err != nil {
		return nil, err
	}
	return &relay{
		children: []coordinator.Child{
			{Name: dlqName, Props: dlqProps, Routes: []proto.Message{&messages.DLQList{}, &messages.DLQReplay{}, &messages.DLQSkip{}}},
			{Name: cdcstreamName, Props: streamProps},
		},
		probes: []health.Probe{health.Optional(producer.Reachability()), breakerProbe{policy, r.Retry.SuccessThreshold}, cdcstream.Probe{Root: sys.Root, PID: streamPID}},
	}, nil
}

// streamProps builds the cdcstream over the source of outbox_messages
// (--source); a publisher failure restarts the stream with it, within the
// coordinator's budget (cdcstream.Props says why).
func (n *node) streamProps(session gocqlx.Session, publisherProps *actor.Props, m *metrics.Metrics) (*actor.Props, error) {
	src, err := n.source(session.Session)
	if err != nil {
		return nil, err
	}
	stream := n.cfg.Relay.Stream
	stream.LogTTL = n.cfg.Scylla.OutboxTTL
	// The stream's stop is the publisher's drain, then this: it must fit in
	// the shutdown bound with it.
	stream.StopTimeout = min(stream.StopTimeout, n.cfg.Node.ShutdownTimeout-n.cfg.Relay.Publish.DrainTimeout)
	return cdcstream.Props(stream, cdcstream.Deps{Source: src, Publisher: publisherProps, Metrics: m})
}

// source is the relay's reader of outbox_messages: its CDC log, or scans
// of the table with --source poll (the reference the CDC relay is measured
// against). Both start, without saved progress, one outbox TTL back.
func (n *node) source(session *gocql.Session) (cdcstream.Source, error) {
	consistency, err := gocql.ParseConsistencyWrapper(strings.ToUpper(n.cfg.Scylla.Consistency))
	if err != nil {
		return nil, fmt.Errorf("relay consistency: %w", err)
	}
	reader := n.cfg.Relay.CDC
	if n.cfg.Relay.Source == config.SourcePoll {
		poll := n.cfg.Relay.Poll
		poll.Keyspace, poll.Consistency, poll.StartAge, poll.WriteTimeout = n.cfg.Scylla.Keyspace, consistency, n.cfg.Scylla.OutboxTTL, n.cfg.Scylla.Timeout
		poll.InFlight, poll.ProgressInterval = reader.InFlight, reader.ProgressInterval
		return outboxpoll.New(poll, session, n.logger.With("component", "outboxpoll"))
	}
	reader.Keyspace, reader.Consistency, reader.ChangeAgeLimit = n.cfg.Scylla.Keyspace, consistency, n.cfg.Scylla.OutboxTTL
	n.logger.Info("cdc reader", "confidence_window", reader.ConfidenceWindow, "server_timestamps", n.cfg.Scylla.UseServerTimestamps())
	if n.member != nil {
		return n.member.source(reader, session, n.logger)
	}
	return cdc.New(reader, session, n.logger.With("component", "cdc"))
}

// breakerProbe reports the publish circuit breaker: closed is ok; open or
// half-open is degraded (events wait, nothing is lost). Half-open is not a
// pause: trial publishes go out, and successes close the breaker.
type breakerProbe struct {
	policy *resilience.Policy
	// successes is how many half-open successes close the breaker.
	successes uint
}

var _ health.Probe = breakerProbe{}

func (breakerProbe) Name() string { return "breaker" }

func (b breakerProbe) Check(context.Context) (messages.HealthStatus, string) {
	switch s := b.policy.State(); s {
	case resilience.StateClosed:
		return messages.HealthStatus_HEALTH_STATUS_OK, s.String()
	case resilience.StateHalfOpen:
		return messages.HealthStatus_HEALTH_STATUS_DEGRADED,
			fmt.Sprintf("%s: trial publishes, closes after %d successes", s, b.successes)
	default:
		return messages.HealthStatus_HEALTH_STATUS_DEGRADED, fmt.Sprintf("%s: publishing paused", s)
	}
}
