package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/asynkron/protoactor-go/remote"
	"google.golang.org/protobuf/proto"

	"github.com/outboxnode/outbox/infra/cliflags"
	"github.com/outboxnode/outbox/infra/gateway"
	"github.com/outboxnode/outbox/messages"
)

// coordinatorName is the node's single remote entry point.
const coordinatorName = "coordinator"

// client sends requests to a node's coordinator over Proto.Actor remote.
// Replies come back over a connection the node dials to the client's own
// remote, so the client listens on listenAddr (port 0 = any free port).
type client struct {
	sys     *actor.ActorSystem
	remote  *remote.Remote
	node    *actor.PID
	timeout time.Duration
}

// UnreachableError means the node did not answer: nothing is known about
// whether a command was applied.
type UnreachableError struct {
	Node string
	Err  error
}

func (e *UnreachableError) Error() string {
	return fmt.Sprintf("node %s unreachable: %v", e.Node, e.Err)
}

func (e *UnreachableError) Unwrap() error { return e.Err }

// RejectedError is a node's typed refusal (CommandRejected).
type RejectedError struct {
	Reply *messages.CommandRejected
}

func (e *RejectedError) Error() string {
	return fmt.Sprintf("rejected (%s): %s", rejectCodeName(e.Reply.GetCode()), e.Reply.GetReason())
}

// dialNode fails fast with a clear error when nothing listens on node, or
// when the node refuses this client's certificate (t non-nil); otherwise
// protoactor would retry the connection in the background and the request
// would only time out.
func dialNode(node string, timeout time.Duration, t *gateway.TLS) error {
	if t != nil {
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		defer cancel()
		if err := t.Handshake(ctx, node); err != nil {
			return &UnreachableError{Node: node, Err: err}
		}
		return nil
	}
	conn, err := net.DialTimeout("tcp", node, timeout)
	if err != nil {
		return &UnreachableError{Node: node, Err: err}
	}
	return conn.Close()
}

// newClient checks --listen and the TLS flags (usage errors) before it
// dials the node, so that a bad flag is not reported as an unreachable
// node. With TLS the client's certificate serves both its dial to the node
// and its own listener, which the node dials back for replies.
func newClient(node, listenAddr string, timeout time.Duration, tlsFiles gateway.TLSFiles) (*client, error) {
	if node == "" {
		return nil, usagef("--remote-addr is empty: want the node's host:port")
	}
	host, portStr, err := net.SplitHostPort(listenAddr)
	if err != nil {
		return nil, usagef("--listen %q is not host:port: %v", listenAddr, err)
	}
	port, err := strconv.Atoi(portStr)
	if err != nil || port < 0 || port > 65535 {
		return nil, usagef("--listen %q: bad port %q", listenAddr, portStr)
	}
	if err := tlsFiles.Validate(); err != nil {
		return nil, usagef("--remote-tls-cert, --remote-tls-key, --remote-tls-ca: %v", err)
	}
	var (
		opts []remote.ConfigOption
		t    *gateway.TLS
	)
	if tlsFiles.Enabled() {
		if t, err = gateway.LoadTLS(tlsFiles); err != nil {
			return nil, usagef("--remote-tls-cert, --remote-tls-key, --remote-tls-ca: %v", err)
		}
		opts = append(opts, remote.WithServerOptions(t.ServerOption()), remote.WithDialOptions(t.DialOption()))
	}
	if err := dialNode(node, timeout, t); err != nil {
		return nil, err
	}
	quiet := slog.New(slog.DiscardHandler)
	sys := actor.NewActorSystem(
		actor.WithLoggerFactory(func(*actor.ActorSystem) *slog.Logger { return quiet }),
		actor.WithDeadLetterRequestLogging(false),
	)
	r := remote.NewRemote(sys, remote.Configure(host, port, opts...))
	if err := startRemote(r); err != nil {
		sys.Shutdown()
		return nil, err
	}
	return &client{sys: sys, remote: r, node: actor.NewPID(node, coordinatorName), timeout: timeout}, nil
}

// startRemote starts r listening on --listen. The library panics when it
// cannot listen (port busy, address not local), before it has started
// anything; that becomes a usage error naming the flag.
func startRemote(r *remote.Remote) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = &cliflags.UsageError{Err: cliflags.ChangeFlag(fmt.Errorf("%v", p), "listen")}
		}
	}()
	r.Start()
	return nil
}

// request sends msg and waits for the reply. A CommandRejected reply
// becomes a *RejectedError; no reply within the timeout an *UnreachableError.
func (c *client) request(msg proto.Message) (proto.Message, error) {
	res, err := c.sys.Root.RequestFuture(c.node, msg, c.timeout).Result()
	if err != nil {
		if errors.Is(err, actor.ErrTimeout) {
			err = fmt.Errorf("no reply within %s (the request may still be applied)", c.timeout)
		}
		return nil, &UnreachableError{Node: c.node.Address, Err: err}
	}
	if rej, ok := res.(*messages.CommandRejected); ok {
		return nil, &RejectedError{Reply: rej}
	}
	reply, ok := res.(proto.Message)
	if !ok {
		return nil, fmt.Errorf("unexpected reply %T", res)
	}
	return reply, nil
}

// close shuts the client's remote and actor system down.
func (c *client) close() {
	// Every command has its answer (or gave up) by now, so nothing is left
	// to flush: a graceful stop would only wait, up to 10 s, on a peer that
	// accepted the connection and never answered.
	c.remote.Shutdown(false)
	c.sys.Shutdown()
}

// expect narrows a reply to the type a command is answered with.
func expect[T proto.Message](reply proto.Message, err error) (T, error) {
	var zero T
	if err != nil {
		return zero, err
	}
	t, ok := reply.(T)
	if !ok {
		return zero, fmt.Errorf("unexpected reply %T, want %T", reply, zero)
	}
	return t, nil
}
