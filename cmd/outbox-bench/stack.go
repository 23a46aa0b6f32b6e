package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/scylladb/gocqlx/v2"

	"github.com/outboxnode/outbox/infra/config"
	"github.com/outboxnode/outbox/infra/scylla"
	"github.com/outboxnode/outbox/schema"
)

const (
	readyTimeout = 2 * time.Minute
	stopTimeout  = 40 * time.Second
)

// binaries are the executables the bench runs as their own processes.
type binaries struct {
	node, devstack, bench string
}

// startDevstack runs the store and broker (miniscylla + minikafka, in
// memory) as their own process and returns it with its addresses.
func startDevstack(bin string) (p *proc, cql, kafka string, err error) {
	p, err = startProc("devstack", bin, "--embedded-cql-addr", "127.0.0.1:0", "--embedded-kafka-addr", "127.0.0.1:0", "--log-level", "warn")
	if err != nil {
		return nil, "", "", err
	}
	line, err := p.waitLine(readyTimeout, "devstack ready ")
	if err != nil {
		_ = p.stop(stopTimeout)
		return nil, "", "", err
	}
	for _, f := range strings.Fields(line) {
		if v, ok := strings.CutPrefix(f, "cql="); ok {
			cql = v
		}
		if v, ok := strings.CutPrefix(f, "kafka="); ok {
			kafka = v
		}
	}
	return p, cql, kafka, nil
}

// node is a running outbox-node process.
type node struct {
	*proc
	remote, metrics, kafka string
	dataDir                string
}

// startNode runs outbox-node on free ports and a fresh data directory with
// args appended, and waits until it serves /health. With no --scylla-hosts
// in args it runs embedded, and kafka is its embedded broker.
func startNode(bin string, args ...string) (*node, error) {
	dir, err := os.MkdirTemp("", "outbox-bench-node-")
	if err != nil {
		return nil, fmt.Errorf("node data dir: %w", err)
	}
	n := &node{dataDir: dir}
	for _, a := range []*string{&n.remote, &n.metrics, &n.kafka} {
		if *a, err = freeAddr(); err != nil {
			return nil, err
		}
	}
	cql, err := freeAddr()
	if err != nil {
		return nil, err
	}
	for i, a := range args {
		if a == "--kafka-brokers" && i+1 < len(args) {
			n.kafka = args[i+1]
		}
	}
	full := append([]string{"--remote-addr", n.remote, "--metrics-addr", n.metrics, "--data-dir", dir,
		"--embedded-cql-addr", cql, "--embedded-kafka-addr", n.kafka, "--embedded-persist=false", "--log-level", "warn"}, args...)
	if n.proc, err = startProc("outbox-node", bin, full...); err != nil {
		return nil, err
	}
	if err := n.waitHTTP(readyTimeout, "http://"+n.metrics+"/health"); err != nil {
		_ = n.stop()
		return nil, err
	}
	return n, nil
}

func (n *node) stop() error {
	err := n.proc.stop(stopTimeout)
	_ = os.RemoveAll(n.dataDir)
	return err
}

// devstackNodeArgs run outbox-node against devstack at cql and kafka the
// way the bench compares it: one replica, server write timestamps (the
// low-latency mode of a single-node store, as embedded) and window.
func devstackNodeArgs(cql, kafka string, window time.Duration) []string {
	return []string{"--scylla-hosts", cql, "--kafka-brokers", kafka, "--migrate", "--consistency", "ONE",
		"--scylla-server-timestamps=true", "--cdc-confidence-window", window.String()}
}

// storeSession connects to the store at cql with the node's defaults, at
// consistency ONE (one replica) and with server write timestamps like the
// node on devstack (devstackNodeArgs), and applies the node's schema; with
// shards > 0 also cluster mode's K shard tables and their lease table.
func storeSession(ctx context.Context, cql string, shards int) (gocqlx.Session, config.Scylla, error) {
	cfg := config.Default().Scylla
	cfg.Consistency = "ONE"
	cfg.OutboxShards = shards
	serverTimestamps := true
	cfg.ServerTimestamps = &serverTimestamps
	s, err := scylla.Connect(ctx, cfg, []string{cql}, slog.New(slog.DiscardHandler))
	if err != nil {
		return gocqlx.Session{}, cfg, fmt.Errorf("connect to the store %s: %w", cql, err)
	}
	stmts, err := schema.Statements(cfg)
	if err != nil {
		s.Close()
		return gocqlx.Session{}, cfg, fmt.Errorf("schema: %w", err)
	}
	if err := scylla.Migrate(ctx, s, stmts); err != nil {
		s.Close()
		return gocqlx.Session{}, cfg, fmt.Errorf("migrate: %w", err)
	}
	return s, cfg, nil
}
