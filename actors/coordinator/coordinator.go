// Package coordinator is the root of the node's actor tree and its single remote entry
// point: outboxctl sends every request to PID(node address, "coordinator"), which forwards
// it, keeping the sender, to the child that handles its type (orders, health, supervision,
// dlq...). It restarts failing children one-for-one within a restart budget and stops the
// node through OnFatal when the budget is spent. Once the node's admission gate is closed
// (the node is stopping) or the coordinator itself stops, it answers every request at once
// with a typed refusal instead of routing it, so no child is handed new work it could
// spawn actors for while the tree is being taken down.
package coordinator

import (
	"fmt"
	"log/slog"
	"sync"

	"github.com/asynkron/protoactor-go/actor"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/outboxnode/outbox/actors/admission"
	"github.com/outboxnode/outbox/actors/supervision"
	"github.com/outboxnode/outbox/messages"
)

// Name is the coordinator's actor name, the address remote clients use.
const Name = "coordinator"

// Props validates cfg (after SetDefaults) and returns the coordinator's props. Its own restarts are governed by a guardian
// strategy with the same budget, because protoactor ignores WithSupervisor on a top-level
// actor. With fault injection enabled, each child's props is configured to panic on an
// injected fault.
func Props(cfg Config, children []Child) (*actor.Props, error) {
	cfg.SetDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	routes, err := routeTable(children)
	if err != nil {
		return nil, err
	}
	if cfg.EnableFaultInjection {
		for _, c := range children {
			c.Props.Configure(actor.WithReceiverMiddleware(panicOnFault))
		}
	}
	var once sync.Once
	fatal := func(err error) { once.Do(func() { cfg.OnFatal(err) }) }
	return supervision.Observe(actor.PropsFromProducer(func() actor.Actor {
		return &coordinator{cfg: cfg, children: children, routes: routes, fatal: fatal}
	},
		actor.WithSupervisor(restartStrategy(cfg.RestartBudget, cfg.RestartWindow, fatal)),
		actor.WithGuardian(restartStrategy(cfg.RestartBudget, cfg.RestartWindow, fatal)),
	)), nil
}

// Spawn starts the coordinator under its well-known name.
func Spawn(root *actor.RootContext, props *actor.Props) (*actor.PID, error) {
	pid, err := root.SpawnNamed(props, Name)
	if err != nil {
		return nil, fmt.Errorf("spawn %s: %w", Name, err)
	}
	return pid, nil
}

type coordinator struct {
	cfg      Config
	children []Child
	routes   map[protoreflect.FullName]string
	fatal    func(error)
	pids     map[string]*actor.PID // running children by name
	stopping bool                  // children terminate because the coordinator stops or restarts
}

func (c *coordinator) Receive(ctx actor.Context) {
	switch m := ctx.Message().(type) {
	case *actor.Started:
		c.start(ctx)
	case *actor.Restarting, *actor.Stopping:
		c.stopping = true
	case *actor.Terminated:
		c.terminated(ctx, m.Who)
	case actor.AutoRespond:
		// Answered by protoactor itself (e.g. Touch).
	case proto.Message:
		if c.refused(ctx) {
			return
		}
		if f, ok := m.(*messages.InjectFault); ok {
			c.injectFault(ctx, f)
			return
		}
		c.route(ctx, m)
	}
}

// refused answers a request that arrives while the node or the coordinator stops: a
// stopping actor still receives user messages (protoactor), and routing them would keep
// its children busy, or spawning, while they are asked to stop.
func (c *coordinator) refused(ctx actor.Context) bool {
	switch {
	case c.cfg.Gate.Closed():
		if ctx.Sender() != nil {
			ctx.Respond(admission.Refusal())
		}
		return true
	case c.stopping:
		c.reject(ctx, messages.RejectCode_REJECT_CODE_UNAVAILABLE, "%s is stopping", Name)
		return true
	}
	return false
}

func (c *coordinator) start(ctx actor.Context) {
	c.pids = make(map[string]*actor.PID, len(c.children))
	for _, ch := range c.children {
		pid, err := ctx.SpawnNamed(ch.Props, ch.Name)
		if err != nil {
			c.fatal(fmt.Errorf("spawn %s: %w", ch.Name, err))
			return
		}
		c.pids[ch.Name] = pid
	}
}

func (c *coordinator) terminated(ctx actor.Context, who *actor.PID) {
	for name, pid := range c.pids {
		if pid.Equal(who) {
			delete(c.pids, name)
			if !c.stopping {
				ctx.Logger().Error("child stopped", slog.String("child", name))
				c.fatal(fmt.Errorf("%w: %s", ErrChildStopped, who.Id))
			}
			return
		}
	}
}

// route forwards m to the child that handles its type; the child answers the sender.
func (c *coordinator) route(ctx actor.Context, m proto.Message) {
	name := proto.MessageName(m)
	child, ok := c.routes[name]
	if !ok {
		c.reject(ctx, messages.RejectCode_REJECT_CODE_INVALID_ARGUMENT, "unsupported request %s", name)
		return
	}
	pid, ok := c.pids[child]
	if !ok {
		c.reject(ctx, messages.RejectCode_REJECT_CODE_UNAVAILABLE, "%s is not running", child)
		return
	}
	ctx.Forward(pid)
}

func (c *coordinator) reject(ctx actor.Context, code messages.RejectCode, format string, args ...any) {
	if ctx.Sender() == nil {
		return
	}
	ctx.Respond(&messages.CommandRejected{Code: code, Reason: fmt.Sprintf(format, args...)})
}
