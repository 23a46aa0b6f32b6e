// Command serve runs miniscylla on a free loopback port for the CDC
// conformance run (infra/miniscylla/cdc/conformance.sh): it prints the
// listening address as the first line of stdout and serves until SIGINT or
// SIGTERM.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/outboxnode/outbox/infra/miniscylla"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:0", "address to listen on (port 0 picks a free port)")
	flag.Parse()
	if err := run(*addr); err != nil {
		fmt.Fprintln(os.Stderr, "serve:", err)
		os.Exit(1)
	}
}

func run(addr string) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	srv, err := miniscylla.Start(ctx, miniscylla.Config{
		Addr:   addr,
		Logger: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
	})
	if err != nil {
		return err
	}
	fmt.Println(srv.Addr())
	<-ctx.Done()
	return srv.Close()
}
