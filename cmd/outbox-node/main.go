// Command outbox-node runs the transactional-outbox node: flags/env ->
// config -> store, broker, actor system -> block until SIGINT/SIGTERM ->
// graceful shutdown. With no --scylla-hosts / --kafka-brokers it starts the
// embedded miniscylla and minikafka in-process, so it runs without Docker.
//
//	outbox-node [flags]          run the node (outbox-node -h lists flags)
//	outbox-node --demo N [flags] create N sample orders, print their Kafka records, exit
//	outbox-node schema [flags]   print the schema CQL for cqlsh
//
// Every flag also reads its OUTBOX_* environment variable (-h names it); a
// flag on the command line wins. Exit codes: 0 after a graceful shutdown
// (SIGINT or SIGTERM) and for -h, 1 when start-up fails, the supervision
// budget is exceeded or the coordinator stops without a shutdown, 2 for bad
// flags or settings.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/urfave/cli/v3"

	"github.com/outboxnode/outbox/infra/cliflags"
	"github.com/outboxnode/outbox/infra/config"
	"github.com/outboxnode/outbox/infra/gogc"
	"github.com/outboxnode/outbox/schema"
)

func main() {
	gogc.Apply(os.Getenv)
	os.Exit(run(os.Args[1:], os.Getenv, os.Stdout, os.Stderr))
}

// flagDemo is the one node flag outside config: it is a run mode, not a
// setting of the node.
const flagDemo = "demo"

func run(args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	flags := config.NewFlags(getenv)
	code := 0
	cmd := &cli.Command{
		Name:  "outbox-node",
		Usage: "run the transactional-outbox node (embedded store and broker unless --scylla-hosts / --kafka-brokers)",
		Flags: append(flags.List(), &cli.IntFlag{
			Name: flagDemo, Usage: "create N sample orders, print their Kafka records and exit (on a temporary --data-dir unless given)",
			Sources: flags.Env(flagDemo), Local: true, HideDefault: true,
			Validator: func(n int) error {
				if n < 1 {
					return errors.New("want a number of orders >= 1")
				}
				return nil
			},
		}),
		Writer: stdout, ErrWriter: stderr,
		Action: func(ctx context.Context, cmd *cli.Command) error {
			cfg, err := flags.Config(cmd)
			if err != nil {
				return err
			}
			code = serve(cfg, cmd.Int(flagDemo), !cmd.IsSet("data-dir"), stdout, stderr)
			return nil
		},
		Commands: []*cli.Command{{
			Name:  "schema",
			Usage: "print the schema CQL (keyspace, tables, CDC) for cqlsh, from --keyspace, --replication, --tablets and --outbox-ttl",
			Action: func(_ context.Context, cmd *cli.Command) error {
				cfg, err := flags.Config(cmd)
				if err != nil {
					return err
				}
				script, err := schema.Script(cfg.Scylla)
				if err != nil {
					return err
				}
				_, err = fmt.Fprint(stdout, script)
				return err
			},
		}},
	}
	// -h runs no action and leaves code at 0.
	if err := cliflags.Run(context.Background(), cmd, append([]string{cmd.Name}, args...)); err != nil {
		fmt.Fprintln(stderr, "outbox-node:", err)
		return 2
	}
	return code
}

// serve runs the node until SIGINT or SIGTERM, or the demo of demo orders
// (0: none), and returns the exit code. A demo without its own data dir
// runs on a temporary one, removed at exit, so it never touches the data
// of a node run before.
func serve(cfg config.Config, demo int, tempDataDir bool, stdout, stderr io.Writer) int {
	logger := newLogger(stderr, cfg.Node.LogLevel)
	if demo > 0 && tempDataDir {
		dir, err := os.MkdirTemp("", "outbox-demo-*")
		if err != nil {
			logger.Error("demo data dir", "err", err)
			return 1
		}
		defer os.RemoveAll(dir)
		cfg.Node.DataDir = dir
	}
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
	n.hints()
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
