// Command devstack runs the embedded infrastructure of the outbox node as one
// process, no Docker needed: a ScyllaDB-compatible CQL server (miniscylla)
// and a Kafka broker (minikafka). It prints one line, "devstack ready
// cql=<addr> kafka=<addr>", once both accept connections, and stops on
// SIGINT/SIGTERM. With --data-dir the CQL store survives restarts (a
// write-ahead log); without it everything lives in memory. A log damaged
// before intact records stops the start (exit 1) unless --wal-recovery
// salvage drops the damaged bytes. --cql-username with --cql-password-file
// (or DEVSTACK_CQL_PASSWORD) requires a login, and --cql-tls-cert/--cql-tls-key
// (+ --cql-tls-client-ca) serve CQL over TLS.
//
// SIGUSR1 starts a broker outage, SIGUSR2 ends it: the Kafka port refuses
// connections and open ones are dropped, as when the broker process is
// down, but its records are kept (a restarted kfake would have none). Each
// switch is acknowledged on stdout with "devstack kafka down" or
// "devstack kafka up" once in effect; chaos tests wait for that line.
//
//	devstack --cql-addr 127.0.0.1:9042 --kafka-addr 127.0.0.1:9092 --data-dir /var/lib/devstack
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	switch {
	case errors.Is(err, flag.ErrHelp):
	case err != nil:
		fmt.Fprintf(os.Stderr, "devstack: %v\n", err)
		os.Exit(1)
	}
}

// run parses args, starts the stack, reports readiness on stdout and serves until ctx ends.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cfg, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: cfg.logLevel}))
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
