// Command outbox-bench measures the relay against its ceilings (make bench),
// soaks a node under steady load (make soak) and measures cluster mode's
// command path and shard relay (make bench-cluster). The node, the store and
// broker (cmd/devstack) and the naive relay each run as their own process,
// so that each is measured from /proc as a user would see it; the bench
// process drives the load (Proto.Actor remote commands or direct store
// writes) and reads the records back with sarama.
package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"github.com/urfave/cli/v3"

	"github.com/outboxnode/outbox/infra/logging"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := app().Run(ctx, os.Args); err != nil {
		fmt.Fprintln(os.Stderr, "outbox-bench:", err)
		os.Exit(1)
	}
}

func app() *cli.Command {
	return &cli.Command{
		Name:     "outbox-bench",
		Usage:    "measures outbox-node against its ceilings (run), under steady load (soak) and in cluster mode (cluster)",
		Commands: []*cli.Command{runCommand(), soakCommand(), clusterCommand(), naiveCommand()},
	}
}

// binFlags name the executables; make bench builds them into bin/.
func binFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "node-bin", Value: "bin/outbox-node", Usage: "outbox-node executable"},
		&cli.StringFlag{Name: "devstack-bin", Value: "bin/devstack", Usage: "devstack executable"},
	}
}

func progressLog() *slog.Logger {
	return logging.New(os.Stderr, slog.LevelInfo)
}

func runCommand() *cli.Command {
	return &cli.Command{
		Name:  "run",
		Usage: "one run: ceilings, then the naive, CDC and polling relays at each offered load, then the embedded node",
		Flags: append(binFlags(),
			&cli.StringFlag{Name: "bench-bin", Usage: "this executable, for the naive-relay process (default: the running one)"},
			&cli.StringSliceFlag{Name: "relays", Usage: "measure only these of naive, cdc, poll, embedded (default: all; the summary needs naive, cdc and embedded)"},
			&cli.StringSliceFlag{Name: "loads", Value: []string{"250", "1000", "4000", "max"}, Usage: "offered loads in orders/s; max = unpaced"},
			&cli.DurationFlag{Name: "step", Value: DefaultStep, Usage: "duration of each offered load"},
			&cli.DurationFlag{Name: "ceiling", Value: DefaultCeiling, Usage: "duration of each bare loop"},
			&cli.DurationFlag{Name: "drain-timeout", Value: DefaultDrainTimeout, Usage: "longest wait for a backlog or a step's events"},
			&cli.IntFlag{Name: "embedded-rate", Value: DefaultEmbeddedRate, Usage: "orders/s of the embedded node's row"},
			&cli.DurationFlag{Name: "window", Value: DefaultWindow, Usage: "CDC confidence window of the relays on devstack (server write timestamps)"},
			&cli.StringFlag{Name: "pprof", Usage: "directory for the node's CPU profile of the cdc row at 1000/s (runs the node with --pprof; empty: none)"},
			&cli.StringFlag{Name: "out", Usage: "directory for results.md, latency.png and cpu.png (empty: stdout only)"},
		),
		Action: func(ctx context.Context, cmd *cli.Command) error {
			loads, err := parseLoads(cmd.StringSlice("loads"))
			if err != nil {
				return err
			}
			self := cmd.String("bench-bin")
			if self == "" {
				if self, err = os.Executable(); err != nil {
					return fmt.Errorf("own executable: %w", err)
				}
			}
			cfg := runConfig{
				Loads: loads, Relays: cmd.StringSlice("relays"), Step: cmd.Duration("step"), Ceiling: cmd.Duration("ceiling"), DrainTimeout: cmd.Duration("drain-timeout"),
				EmbeddedRate: cmd.Int("embedded-rate"), Window: cmd.Duration("window"), Pprof: cmd.String("pprof"),
				Bins: binaries{node: cmd.String("node-bin"), devstack: cmd.String("devstack-bin"), bench: self},
			}
			rep, err := runBench(ctx, cfg, progressLog())
			if err != nil {
				return err
			}
			return rep.write(os.Stdout, cmd.String("out"), strings.Join(os.Args, " "))
		},
	}
}

// write prints the table and, last, the summary line; with dir set it also
// writes results.md and the plots there.
func (r *report) write(stdout *os.File, dir, command string) error {
	r.writeTable(stdout)
	line := r.summary().String()
	if dir != "" {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return fmt.Errorf("results dir: %w", err)
		}
		f, err := os.Create(filepath.Join(dir, "results.md"))
		if err != nil {
			return fmt.Errorf("results: %w", err)
		}
		fmt.Fprintf(f, "Made by `%s`.\n\n", command)
		r.writeTable(f)
		fmt.Fprintf(f, "```\n%s\n```\n", line)
		if err := f.Close(); err != nil {
			return fmt.Errorf("results: %w", err)
		}
		if err := r.writePlots(dir); err != nil {
			return err
		}
	}
	fmt.Fprintln(stdout, line)
	return nil
}

func parseLoads(in []string) ([]int, error) {
	var out []int
	for _, s := range in {
		if s == "max" {
			out = append(out, 0)
			continue
		}
		n, err := strconv.Atoi(s)
		if err != nil || n <= 0 {
			return nil, fmt.Errorf("load %q: want a positive number of orders/s or max", s)
		}
		out = append(out, n)
	}
	return out, nil
}
