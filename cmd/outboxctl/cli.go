package main

import (
	"cmp"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/outboxnode/outbox/infra/gateway"
)

// Exit codes (see the package doc).
const (
	exitOK          = 0
	exitRejected    = 1
	exitUsage       = 2
	exitUnreachable = 3
	exitFailure     = 4
)

// globals are the flags every command accepts.
type globals struct {
	node    string
	output  string
	timeout time.Duration
	listen  string
	tls     gateway.TLSFiles
	// traceparent is the W3C trace context order commands carry; empty: the node
	// starts a trace.
	traceparent string
}

// defaultGlobals are the global flags' values before parsing. Each flag
// set starts from the values parsed so far, so that the global flags may
// come before or after the command words (an explicit zero included).
func defaultGlobals(getenv func(string) string) globals {
	return globals{node: cmp.Or(getenv("OUTBOX_NODE"), "127.0.0.1:8090"), timeout: 5 * time.Second, listen: "127.0.0.1:0",
		tls:         gateway.TLSFiles{Cert: getenv("OUTBOX_TLS_CERT"), Key: getenv("OUTBOX_TLS_KEY"), CA: getenv("OUTBOX_TLS_CA")},
		traceparent: getenv("TRACEPARENT")}
}

// env is what a command runs with.
type env struct {
	globals
	stdout, stderr io.Writer
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
	c, err := newClient(e.node, e.listen, e.timeout, e.tls)
	if err != nil {
		return nil, err
	}
	e.client = c
	return c, nil
}

// command is one subcommand: args are what follows its name.
type command struct {
	name  string
	usage string
	run   func(e *env, args []string) error
}

var commands = []command{
	{"order create", "--customer C --amount 12.50 [--currency EUR] [--item SKU:QTY ...]", orderCreate},
	{"order update", "ORDER_ID [--amount 15.00] [--item SKU:QTY ...]", orderUpdate},
	{"order cancel", "ORDER_ID [--reason TEXT]", orderCancel},
	{"order get", "ORDER_ID", orderGet},
	{"health", "", health},
	{"events", "[--follow] [--since DURATION] [--limit N]", events},
	{"top", "[--metrics URL] [--interval 1s] [--count N]", top},
	{"dlq list", "", dlqList},
	{"dlq replay", "EVENT_ID | --all", dlqReplay},
	{"dlq skip", "EVENT_ID", dlqSkip},
	{"fault inject", "ACTOR   (test only: node must run with --enable-fault-injection)", faultInject},
}

// usageError is a bad command line.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

// helpError asks for a command's flags (-h).
type helpError struct{ fs *flag.FlagSet }

func (e *helpError) Error() string { return flag.ErrHelp.Error() }

func usagef(format string, args ...any) error {
	return &usageError{msg: fmt.Sprintf(format, args...)}
}

// run executes one outboxctl invocation and returns its exit code.
func run(args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	if err := validUTF8(args); err != nil {
		return report(err, stderr)
	}
	e := &env{stdout: stdout, stderr: stderr, globals: defaultGlobals(getenv)}
	fs := newFlagSet("outboxctl", &e.globals)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			printUsage(stderr)
			return exitOK
		}
		return report(usagef("%v", err), stderr)
	}
	err := dispatch(e, fs.Args())
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

func dispatch(e *env, args []string) error {
	for _, c := range commands {
		words := strings.Fields(c.name)
		if len(args) >= len(words) && strings.Join(args[:len(words)], " ") == c.name {
			return c.run(e, args[len(words):])
		}
	}
	if len(args) == 0 {
		return usagef("missing command")
	}
	return usagef("unknown command %q", strings.Join(args, " "))
}

func report(err error, stderr io.Writer) int {
	if err == nil {
		return exitOK
	}
	var help *helpError
	if errors.As(err, &help) {
		fmt.Fprintf(stderr, "usage: outboxctl %s [flags]\n", help.fs.Name())
		help.fs.SetOutput(stderr)
		help.fs.PrintDefaults()
		return exitOK
	}
	fmt.Fprintln(stderr, "outboxctl:", err)
	var (
		usage       *usageError
		rejected    *RejectedError
		unreachable *UnreachableError
		unhealthy   *unhealthyError
	)
	switch {
	case errors.As(err, &usage):
		printUsage(stderr)
		return exitUsage
	case errors.As(err, &rejected), errors.As(err, &unhealthy):
		return exitRejected
	case errors.As(err, &unreachable):
		return exitUnreachable
	}
	return exitFailure
}

func printUsage(w io.Writer) {
	fmt.Fprintln(w, "usage: outboxctl [--node host:port] [-o text|json] [--timeout 5s] COMMAND")
	fmt.Fprintln(w, "commands:")
	for _, c := range commands {
		fmt.Fprintf(w, "  %s %s\n", c.name, c.usage)
	}
	fmt.Fprintln(w, "env: OUTBOX_NODE sets --node; OUTBOX_TLS_CERT, OUTBOX_TLS_KEY, OUTBOX_TLS_CA set --tls-cert, --tls-key, --tls-ca; TRACEPARENT sets --traceparent")
}

// newFlagSet returns a flag set carrying the global flags, so they may
// appear before or after the command words.
func newFlagSet(name string, g *globals) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	node := g.node
	fs.StringVar(&g.node, "node", node, "node remote address host:port (env OUTBOX_NODE)")
	fs.Func("o", "output format: text or json", func(s string) error {
		if s != "text" && s != "json" {
			return fmt.Errorf("want text or json")
		}
		g.output = s
		return nil
	})
	fs.DurationVar(&g.timeout, "timeout", g.timeout, "time to wait for the node's reply")
	fs.StringVar(&g.listen, "listen", g.listen, "host:port this client listens on for replies (must be reachable from the node)")
	fs.StringVar(&g.tls.Cert, "tls-cert", g.tls.Cert, "PEM client certificate for a node with mutual TLS; also served on --listen, so it must name that host (env OUTBOX_TLS_CERT)")
	fs.StringVar(&g.tls.Key, "tls-key", g.tls.Key, "PEM key of --tls-cert (env OUTBOX_TLS_KEY)")
	fs.StringVar(&g.tls.CA, "tls-ca", g.tls.CA, "PEM CA that signs the node's certificate (env OUTBOX_TLS_CA)")
	return fs
}

// parse parses args with fs, allowing flags between positional arguments
// (`order update ID --amount 5`), and returns the positional ones.
func parse(fs *flag.FlagSet, args []string) ([]string, error) {
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, &helpError{fs: fs}
			}
			return nil, usagef("%s: %v", fs.Name(), err)
		}
		if fs.NArg() == 0 {
			return positional, nil
		}
		positional = append(positional, fs.Arg(0))
		args = fs.Args()[1:]
	}
}

// parseN parses args and requires exactly n positional arguments, named by
// names in the error.
func parseN(fs *flag.FlagSet, args []string, names ...string) ([]string, error) {
	pos, err := parse(fs, args)
	if err != nil {
		return nil, err
	}
	switch {
	case len(pos) == len(names):
	case len(names) == 0:
		return nil, usagef("%s: takes no arguments, got %q", fs.Name(), pos)
	default:
		return nil, usagef("%s: want %s, got %d argument(s)", fs.Name(), strings.Join(names, " "), len(pos))
	}
	return pos, nil
}
