package main

import (
	"cmp"
	"context"
	"fmt"
	"path/filepath"

	"github.com/outboxnode/outbox/actors/orders"
	"github.com/outboxnode/outbox/infra/kafka"
	"github.com/outboxnode/outbox/infra/minikafka"
	"github.com/outboxnode/outbox/infra/miniscylla"
	"github.com/outboxnode/outbox/messages"
)

// startEmbedded starts miniscylla and/or minikafka when no external hosts
// or brokers are configured, and records their real addresses in n.cfg
// (port 0 picks a free port). It logs the mode first, so a newcomer sees at
// once what runs where.
func (n *node) startEmbedded(ctx context.Context) error {
	cfg := &n.cfg
	if cfg.EmbeddedScylla() {
		dir, kept := "", "in memory only, lost on exit"
		if cfg.Embedded.Persist {
			dir = filepath.Join(cfg.Node.DataDir, "miniscylla")
			kept = "kept in " + dir
		}
		var users miniscylla.Credentials // the node's own login becomes the server's only user
		if cfg.Scylla.Username != "" {
			users = miniscylla.Credentials{cfg.Scylla.Username: cfg.Scylla.Password}
		}
		srv, err := miniscylla.Start(ctx, miniscylla.Config{
			Addr:        cfg.Embedded.CQLAddr,
			DataDir:     dir,
			WALRecovery: cfg.Embedded.WALRecovery,
			Logger:      n.logger.With("component", "miniscylla"),
			Users:       users,
		})
		if err != nil {
			return fmt.Errorf("embedded store: %w", portHint(err, "embedded-cql-addr"))
		}
		n.onShutdown("miniscylla", func(context.Context) error { return srv.Close() })
		cfg.Embedded.CQLAddr = srv.Addr()
		n.logger.Info("embedded mode: ScyllaDB emulator (miniscylla), data "+kept,
			"cql", srv.Addr(), "use_real", "--scylla-hosts host1,host2")
	}
	if cfg.EmbeddedKafka() {
		topics, err := nodeTopics(cfg.Relay.TopicTemplate)
		if err != nil {
			return fmt.Errorf("embedded broker: %w", err)
		}
		mk := minikafka.Config{
			Addr:       cfg.Embedded.KafkaAddr,
			Partitions: cfg.Embedded.KafkaPartitions,
			Topics:     topics,
			Logger:     n.logger.With("component", "minikafka"),
		}
		if sasl := cfg.Kafka.Security.SASL; sasl.Mechanism != "" {
			mk.Users = []minikafka.User{{Mechanism: sasl.Mechanism, Name: sasl.Username, Password: sasl.Password}}
		}
		b, err := minikafka.Start(ctx, mk)
		if err != nil {
			return fmt.Errorf("embedded broker: %w", portHint(err, "embedded-kafka-addr"))
		}
		n.onShutdown("minikafka", func(context.Context) error { b.Close(); return nil })
		cfg.Embedded.KafkaAddr = b.Addr()
		n.logger.Info("embedded mode: in-process Kafka broker (minikafka)",
			"kafka", b.Addr(), "sasl", cmp.Or(cfg.Kafka.Security.SASL.Mechanism, "off"), "use_real", "--kafka-brokers host1:9092")
	}
	return nil
}

// nodeTopics returns the topics the relay publishes order events to, which
// the embedded broker creates with --embedded-kafka-partitions partitions;
// other topics are created on first use with one, as in Kafka.
func nodeTopics(template string) ([]string, error) {
	m, err := kafka.NewMapper(template)
	if err != nil {
		return nil, err
	}
	var topics []string
	for _, et := range []string{orders.EventOrderCreated, orders.EventOrderUpdated, orders.EventOrderCancelled} {
		topics = append(topics, m.Topic(&messages.OutboxEvent{EventType: et, AggregateType: orders.AggregateType}))
	}
	return topics, nil
}
