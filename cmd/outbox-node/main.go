// Command outbox-node runs the transactional-outbox node: flags/env ->
// config -> store, broker, actor system -> block until SIGINT/SIGTERM ->
// graceful shutdown. With no --scylla-hosts / --kafka-brokers it starts the
// embedded miniscylla and minikafka in-process, so it runs without Docker.
//
//	outbox-node [flags]          run the node (outbox-node -h lists flags)
//	outbox-node --demo N [flags] create N sample orders, print their Kafka records, exit
//	outbox-node schema [flags]   print the schema CQL for cqlsh
//
// Exit codes: 0 after a graceful shutdown, 1 when start-up fails, the
// supervision budget is exceeded or the coordinator stops without a
// shutdown, 2 for bad flags.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/outboxnode/outbox/infra/config"
	"github.com/outboxnode/outbox/schema"
)

func main() {
	os.Exit(run(os.Args[1:], os.Getenv, os.Stdout, os.Stderr))
}

func run(args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	if len(args) > 0 && args[0] == "schema" {
		return printSchema(args[1:], getenv, stdout, stderr)
	}
	demo, args, err := parseDemo(args)
	if err != nil {
		fmt.Fprintln(stderr, "outbox-node:", err)
		return 2
	}
	cfg, err := config.Load(args, getenv, stderr)
	if err != nil {
		return loadFailed("outbox-node", err, stderr)
	}
	logger := newLogger(stderr, cfg.Node.LogLevel)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	n, err := start(ctx, cfg, logger)
	if err != nil {
		logger.Error("start failed", "err", err)
		return 1
	}
	if demo > 0 {
		return n.demo(ctx, demo, stdout)
	}
	fatal := n.wait(ctx)
	if fatal != nil {
		logger.Error("stopping after a fatal failure", "err", fatal)
	} else {
		logger.Info("signal received, shutting down", "bound", cfg.Node.ShutdownTimeout)
	}
	if err := n.shutdown(); err != nil {
		logger.Error("shutdown incomplete", "err", err)
		return 1
	}
	if fatal != nil {
		return 1
	}
	logger.Info("stopped")
	return 0
}

func printSchema(args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	cfg, err := config.Load(args, getenv, stderr)
	if err != nil {
		return loadFailed("outbox-node schema", err, stderr)
	}
	script, err := schema.Script(cfg.Scylla)
	if err != nil {
		fmt.Fprintln(stderr, "outbox-node schema:", err)
		return 2
	}
	fmt.Fprint(stdout, script)
	return 0
}

// loadFailed reports a config error and returns the exit code: 0 for -h
// (the flag package printed the usage), 2 otherwise.
func loadFailed(prog string, err error, stderr io.Writer) int {
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	fmt.Fprintln(stderr, prog+":", err)
	return 2
}
