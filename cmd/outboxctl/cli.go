package main

import (
	"context"
	"fmt"
	"io"
	"time"
	"unicode/utf8"

	"github.com/urfave/cli/v3"

	"github.com/outboxnode/outbox/infra/cliflags"
	"github.com/outboxnode/outbox/infra/gateway"
)

// Defaults of the global flags; defaultRemoteAddr is the node's default
// --remote-addr.
const (
	defaultRemoteAddr = "127.0.0.1:8090"
	defaultTimeout    = 5 * time.Second
	defaultListen     = "127.0.0.1:0"
)

// traceparentEnv is the W3C trace context carrier variable of other tools
// (OpenTelemetry's environment propagation), so it has no OUTBOX_ prefix.
const traceparentEnv = "TRACEPARENT"

// globals are the flags every command accepts, before or after the
// command words.
type globals struct {
	remoteAddr string
	output     string
	timeout    time.Duration
	listen     string
	tls        gateway.TLSFiles
	// traceparent is the W3C trace context order commands carry; empty: the node
	// starts a trace.
	traceparent string
}

// env is what a command runs with.
type env struct {
	globals
	stdout, stderr io.Writer
	getenv         func(string) string
	client         *client
}

// connect returns the client, starting it on first use.
func (e *env) connect() (*client, error) {
	if e.client != nil {
		return e.client, nil
	}
	if e.timeout <= 0 {
		return nil, usagef("--timeout must be positive, got %s", e.timeout)
	}
	c, err := newClient(e.remoteAddr, e.listen, e.timeout, e.tls)
	if err != nil {
		return nil, err
	}
	e.client = c
	return c, nil
}

func usagef(format string, args ...any) error { return cliflags.Usagef(format, args...) }

// run executes one outboxctl invocation and returns its exit code.
func run(args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	if err := validUTF8(args); err != nil {
		return report(err, stderr)
	}
	e := &env{stdout: stdout, stderr: stderr, getenv: getenv}
	err := cliflags.Run(context.Background(), newApp(e), append([]string{"outboxctl"}, args...))
	if e.client != nil {
		e.client.close()
	}
	return report(err, stderr)
}

// validUTF8 refuses an argument that is not UTF-8 before anything is sent:
// protobuf strings must be UTF-8, so the request could not even be encoded,
// and the node would look unreachable instead of the argument wrong.
func validUTF8(args []string) error {
	for i, a := range args {
		if !utf8.ValidString(a) {
			shown := a
			if len(shown) > 64 {
				shown = shown[:64]
			}
			return usagef("argument %d (%q, %d bytes) is not valid UTF-8", i+1, shown, len(a))
		}
	}
	return nil
}

// report prints err on one line and returns its exit code.
func report(err error, stderr io.Writer) int {
	if err == nil {
		return exitOK
	}
	fmt.Fprintln(stderr, "outboxctl:", err)
	return exitCodeOf(err)
}

// action adapts a command function to the library's signature.
func action(e *env, fn func(*env, *cli.Command) error) cli.ActionFunc {
	return func(_ context.Context, c *cli.Command) error { return fn(e, c) }
}

// newApp returns outboxctl's command tree; its flags and commands write
// into e. Global flags have an OUTBOX_* variable, read with e.getenv.
func newApp(e *env) *cli.Command {
	env := func(flag string) cli.ValueSourceChain { return cliflags.Env(e.getenv, flag) }
	return &cli.Command{
		Name:        "outboxctl",
		Usage:       "the operator's CLI for an outbox node, over Proto.Actor remote",
		Description: "A flag on the command line wins over its environment variable.\n\n" + exitCodeHelp(),
		HideVersion: true,
		Writer:      e.stdout,
		ErrWriter:   e.stderr,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "remote-addr", Value: defaultRemoteAddr, Destination: &e.remoteAddr, Sources: env("remote-addr"),
				Usage: "the node's --remote-addr (host:port)"},
			&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Value: "text", Destination: &e.output, Sources: env("output"),
				Usage: "output format: text or json", Validator: func(s string) error {
					if s != "text" && s != "json" {
						return fmt.Errorf("want text or json")
					}
					return nil
				}},
			&cli.DurationFlag{Name: "timeout", Value: defaultTimeout, Destination: &e.timeout, Sources: env("timeout"),
				Usage: "time to wait for the node's reply"},
			&cli.StringFlag{Name: "listen", Value: defaultListen, Destination: &e.listen, Sources: env("listen"),
				Usage: "host:port this client listens on for replies (must be reachable from the node; port 0: any free port)"},
			&cli.StringFlag{Name: "remote-tls-cert", Destination: &e.tls.Cert, Sources: env("remote-tls-cert"), TakesFile: true,
				Usage: "PEM client certificate for a node with mutual TLS; also served on --listen, so it must name that host"},
			&cli.StringFlag{Name: "remote-tls-key", Destination: &e.tls.Key, Sources: env("remote-tls-key"), TakesFile: true,
				Usage: "PEM key of --remote-tls-cert"},
			&cli.StringFlag{Name: "remote-tls-ca", Destination: &e.tls.CA, Sources: env("remote-tls-ca"), TakesFile: true,
				Usage: "PEM CA that signs the node's certificate"},
		},
		Commands: []*cli.Command{
			{Name: "order", Usage: "create, change and read orders", Commands: orderCommands(e)},
			{Name: "health", Usage: "the node's health report, as /health (exit 1 unless ok)", Action: action(e, health)},
			{Name: "events", Usage: "the supervision events log", Flags: eventsFlags(), Action: action(e, events)},
			{Name: "cluster", Usage: "cluster mode: the members, and per outbox shard its owner, epoch and lag", Action: action(e, cluster)},
			{Name: "top", Usage: "a live view of the node: rates, CDC lag, breaker, dead letters", Flags: topFlags(), Action: action(e, top)},
			{Name: "dlq", Usage: "list, replay or skip dead letters", Commands: dlqCommands(e)},
			{Name: "fault", Usage: "fault injection (test only)", Commands: []*cli.Command{
				{Name: "inject", ArgsUsage: "ACTOR", Usage: "make a node actor panic once; the node must run with --enable-fault-injection",
					Action: action(e, faultInject)},
			}},
		},
	}
}

// traceFlag is --traceparent of the order commands.
func traceFlag(e *env) cli.Flag {
	return &cli.StringFlag{Name: "traceparent", Destination: &e.traceparent, Sources: cliflags.EnvKey(e.getenv, traceparentEnv),
		Usage: "W3C trace context the command joins, 00-<trace id>-<span id>-<flags> (default: the node starts a trace, shown in -o json)"}
}
