// Command devstack runs the embedded infrastructure of the outbox node as one
// process, no Docker needed: a ScyllaDB-compatible CQL server (miniscylla)
// and a Kafka broker (minikafka). Its flags carry the node's names and
// OUTBOX_* variables: --embedded-cql-addr and --embedded-kafka-addr are where
// the servers listen, as on the node. It prints one line, "devstack ready
// cql=<addr> kafka=<addr>", once both accept connections, and stops on
// SIGINT/SIGTERM. With --data-dir the CQL store survives restarts (a
// write-ahead log in <data-dir>/miniscylla, as on the node); without it
// everything lives in memory. A log damaged before intact records stops the
// start (exit 1) unless --embedded-wal-recovery salvage drops the damaged
// bytes. --scylla-username with --scylla-password-file (or
// OUTBOX_SCYLLA_PASSWORD) requires a login, and --embedded-cql-tls-cert/-key
// (+ --embedded-cql-tls-client-ca) serve CQL over TLS.
//
// SIGUSR1 starts a broker outage, SIGUSR2 ends it: the Kafka port refuses
// connections and open ones are dropped, as when the broker process is
// down, but its records are kept (a restarted kfake would have none). Each
// switch is acknowledged on stdout with "devstack kafka down" or
// "devstack kafka up" once in effect; chaos tests wait for that line.
//
// Exit codes: 0 stopped by a signal, 1 start or stop failed, 2 bad command
// line or a listen address that cannot be used (the line names the flag).
//
//	devstack --embedded-cql-addr 127.0.0.1:9042 --embedded-kafka-addr 127.0.0.1:9092 --data-dir /var/lib/devstack
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/outboxnode/outbox/infra/cliflags"
	"github.com/outboxnode/outbox/infra/gogc"
	"github.com/outboxnode/outbox/infra/logging"
)

// Exit codes.
const (
	exitOK     = 0
	exitFailed = 1
	exitUsage  = 2
)

func main() {
	gogc.Apply(os.Getenv)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run parses args, serves until ctx ends and returns the exit code.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	var cfg config
	cmd := newCommand(&cfg, getenv, func(ctx context.Context) error { return serve(ctx, cfg, stdout, stderr) })
	cmd.Writer, cmd.ErrWriter = stdout, stderr
	err := cliflags.Run(ctx, cmd, append([]string{"devstack"}, args...))
	if err == nil {
		return exitOK
	}
	fmt.Fprintf(stderr, "devstack: %v\n", err)
	var usage *cliflags.UsageError
	if errors.As(err, &usage) {
		return exitUsage
	}
	return exitFailed
}

// serve starts the stack, reports readiness on stdout and serves until ctx ends.
func serve(ctx context.Context, cfg config, stdout, stderr io.Writer) error {
	log := logging.New(stderr, cfg.logLevel)
	st, err := start(ctx, cfg, log)
	if err != nil {
		return err
	}
	outage := make(chan os.Signal, 1)
	signal.Notify(outage, syscall.SIGUSR1, syscall.SIGUSR2)
	defer signal.Stop(outage)
	fmt.Fprintf(stdout, "devstack ready %s\n", st.addrs())
	for {
		select {
		case <-ctx.Done():
			log.Info("devstack stopping")
			return st.stop()
		case sig := <-outage:
			down := sig == syscall.SIGUSR1
			names, err := st.setOutage(down)
			if err != nil {
				log.Error("outage switch failed", slog.Bool("down", down), slog.Any("err", err))
				continue
			}
			state := "up"
			if down {
				state = "down"
			}
			for _, name := range names {
				fmt.Fprintf(stdout, "devstack %s %s\n", name, state)
			}
		}
	}
}
