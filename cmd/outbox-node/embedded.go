package main

import (
	"context"
	"fmt"
	"path/filepath"

	"github.com/outboxnode/outbox/infra/minikafka"
	"github.com/outboxnode/outbox/infra/miniscylla"
)

// startEmbedded starts miniscylla and/or minikafka when no external hosts
// or brokers are configured, and records their real addresses in n.cfg
// (port 0 picks a free port). It logs the mode first, so a newcomer sees at
// once what runs where and what to try next.
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
			users = miniscylla.Credentials{cfg.Scylla.Username: cfg.Scylla.Password.Reveal()}
		}
		srv, err := miniscylla.Start(ctx, miniscylla.Config{
			Addr:        cfg.Embedded.CQLAddr,
			DataDir:     dir,
			WALRecovery: cfg.Embedded.WALRecovery,
			Logger:      n.logger.With("component", "miniscylla"),
			Users:       users,
		})
		if err != nil {
			return fmt.Errorf("embedded store: %w", err)
		}
		n.onShutdown("miniscylla", func(context.Context) error { return srv.Close() })
		cfg.Embedded.CQLAddr = srv.Addr()
		n.logger.Info("embedded mode: ScyllaDB emulator (miniscylla), data "+kept,
			"cql", srv.Addr(), "use_real", "--scylla-hosts host1,host2")
	}
	if cfg.EmbeddedKafka() {
		b, err := minikafka.Start(ctx, minikafka.Config{
			Addr:       cfg.Embedded.KafkaAddr,
			Partitions: cfg.Embedded.KafkaPartitions,
			Logger:     n.logger.With("component", "minikafka"),
		})
		if err != nil {
			return fmt.Errorf("embedded broker: %w", err)
		}
		n.onShutdown("minikafka", func(context.Context) error { b.Close(); return nil })
		cfg.Embedded.KafkaAddr = b.Addr()
		n.logger.Info("embedded mode: in-process Kafka broker (minikafka)",
			"kafka", b.Addr(), "use_real", "--kafka-brokers host1:9092")
	}
	if cfg.EmbeddedScylla() || cfg.EmbeddedKafka() {
		node := ""
		if cfg.Node.RemoteAddr != "127.0.0.1:8090" {
			node = " --node " + cfg.Node.RemoteAddr
		}
		n.logger.Info("try: go run ./cmd/outboxctl" + node + " order create --customer alice --amount 12.50")
		n.logger.Info("then: go run ./cmd/outboxctl" + node + " order get <id>; go run ./cmd/outboxctl" + node + " health; go run ./cmd/outboxctl" + node + " events")
	}
	return nil
}
