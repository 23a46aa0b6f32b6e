package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/google/uuid"
	"google.golang.org/protobuf/proto"

	"github.com/outboxnode/outbox/actors/coordinator"
	"github.com/outboxnode/outbox/actors/health"
	"github.com/outboxnode/outbox/actors/orders"
	"github.com/outboxnode/outbox/actors/supervision"
	"github.com/outboxnode/outbox/infra/metrics"
	"github.com/outboxnode/outbox/messages"
)

// ordersName is the orders router's name under the coordinator.
const ordersName = "orders"

// treeDeps are the infra pieces the actor tree is built over.
type treeDeps struct {
	store          orders.Store
	probes         []health.Probe
	metrics        *metrics.Metrics
	supervisionLog string
	relay          []coordinator.Child
	// member is set in cluster mode: orders go to grains, and the node
	// answers ClusterQuery.
	member *member
}

// spawnTree builds the supervision tree under the coordinator:
//
//	coordinator
//	 |- orders       CreateOrder, UpdateOrder, CancelOrder, GetOrder
//	 |- health       HealthQuery
//	 |- supervision  EventsQuery
//	 |- dlq          DLQList, DLQReplay, DLQSkip
//	 `- cdcstream    CDC reader over outbox_messages (fed by the store, not by clients)
//	     `- publisher  Kafka producer behind retry + breaker
//
// and registers the tree's stop as the first shutdown step: the order
// actors drain (what is queued for them is refused, the admission gate is
// closed by then), then the coordinator is poisoned and awaited. A
// coordinator that terminates while the gate is open (a PoisonPill or Stop
// sent to it, a failed restart) is reported on n.fatal, so the process
// never lives on without its tree.
func (n *node) spawnTree(sys *actor.ActorSystem, d treeDeps) (*actor.PID, error) {
	log, err := supervision.New(sys, supervision.Config{Path: d.supervisionLog})
	if err != nil {
		return nil, err
	}
	n.onShutdown("supervision log", func(ctx context.Context) error { log.Close(); return nil })

	commands := newCommandCounter(d.metrics)
	children, err := n.commandChildren(d, log, commands)
	if err != nil {
		return nil, err
	}
	for _, c := range d.relay {
		c.Props = supervision.Observe(c.Props)
		children = append(children, c)
	}
	coord := n.cfg.Coordinator
	coord.Gate, coord.OnFatal = &n.gate, n.fail
	props, err := coordinator.Props(coord, children)
	if err != nil {
		return nil, err
	}
	pid, err := coordinator.Spawn(sys.Root, props.Configure(commands.requests(), commands.replies()))
	if err != nil {
		return nil, err
	}
	n.watchCoordinator(sys, pid)
	n.onShutdown("actor tree", func(ctx context.Context) error {
		drainOrders(ctx, sys, sys.NewLocalPID(pid.GetId()+"/"+ordersName), n.logger)
		if err := poisonAndWait(ctx, sys, pid); err != nil {
			return fmt.Errorf("poison %s: %w", coordinator.Name, err)
		}
		return nil
	})
	return pid, nil
}

// watchCoordinator reports the coordinator's end as fatal unless the node
// is stopping it: whatever else stopped it, a node without its tree only
// answers dead letters, so it must exit (non-zero) rather than linger.
func (n *node) watchCoordinator(sys *actor.ActorSystem, pid *actor.PID) {
	f := actor.NewFuture(sys, -1)
	watch(sys, pid, f.PID())
	go func() {
		_ = f.Wait() // completes with the coordinator's Terminated
		if !n.gate.Closed() {
			n.fail(fmt.Errorf("%w: %s terminated while the node was running (stopped from inside the node, or its restart failed)",
				coordinator.ErrChildStopped, coordinator.Name))
		}
	}()
}

// watch asks pid to send Terminated to watcher when it stops; an actor
// already gone answers at once (as a dead letter).
func watch(sys *actor.ActorSystem, pid, watcher *actor.PID) {
	p, _ := sys.ProcessRegistry.Get(pid)
	p.SendSystemMessage(pid, &actor.Watch{Watcher: watcher})
}

// drainOrders has every order actor answer what is queued for it (refused:
// the gate is closed) and stop, so that those requesters get
// SHUTTING_DOWN instead of a timeout; within ctx. A failure only costs
// those replies, so it is logged, not returned.
func drainOrders(ctx context.Context, sys *actor.ActorSystem, pid *actor.PID, logger *slog.Logger) {
	timeout := 5 * time.Second
	if d, ok := ctx.Deadline(); ok {
		timeout = max(time.Until(d)/2, time.Millisecond)
	}
	_, err := sys.Root.RequestFuture(pid, orders.Drain{}, timeout).Result()
	// A dead letter means the orders actor is gone already: nothing to drain.
	if err != nil && !errors.Is(err, actor.ErrDeadLetter) {
		logger.Warn("order actors not drained; their queued commands get no reply", "err", err)
	}
}

// poisonAndWait poisons pid (it first handles the messages already in its
// mailbox) and waits until it terminated, or until ctx's deadline. It is
// PoisonFuture with the shutdown's bound instead of protoactor's fixed
// 10 s: each actor bounds its own stop (the publisher's drain, the
// stream's final save), and the node's --shutdown-timeout bounds the whole.
func poisonAndWait(ctx context.Context, sys *actor.ActorSystem, pid *actor.PID) error {
	timeout := time.Duration(-1) // no deadline: wait as long as it takes
	if d, ok := ctx.Deadline(); ok {
		timeout = max(time.Until(d), time.Millisecond)
	}
	f := actor.NewFuture(sys, timeout)
	watch(sys, pid, f.PID())
	sys.Root.Poison(pid)
	return f.Wait()
}

// commandChildren builds the clients' side of the tree: orders (with its
// per-order actors), health and the supervision log, each observed, with
// the command counter's middleware on every actor that answers commands.
func (n *node) commandChildren(d treeDeps, log *supervision.Log, commands *commandCounter) ([]coordinator.Child, error) {
	ordersProps, err := orders.Props(d.store, n.ordersConfig(), supervision.Option(), commands.replies())
	if d.member != nil {
		ordersProps, err = orders.GrainRouterProps(n.ordersConfig(), d.member.grains(n.cfg.Node.RequestTimeout))
	}
	if err != nil {
		return nil, err
	}
	healthProps, err := health.Props(health.Config{Timeout: n.cfg.Node.RequestTimeout}, d.probes...)
	if err != nil {
		return nil, err
	}
	children := []coordinator.Child{
		{Name: ordersName, Props: supervision.Observe(ordersProps.Configure(commands.replies())), Routes: []proto.Message{
			&messages.CreateOrder{}, &messages.UpdateOrder{}, &messages.CancelOrder{}, &messages.GetOrder{},
		}},
		{Name: "health", Props: supervision.Observe(healthProps), Routes: []proto.Message{&messages.HealthQuery{}}},
		{Name: "supervision", Props: log.Props(), Routes: []proto.Message{&messages.EventsQuery{}}},
	}
	if d.member != nil {
		info, err := d.member.clusterInfo(n.cfg.Node.RequestTimeout)
		if err != nil {
			return nil, err
		}
		children = append(children, coordinator.Child{Name: "clusterinfo", Props: supervision.Observe(info), Routes: []proto.Message{&messages.ClusterQuery{}}})
	}
	return children, nil
}

// ordersConfig is the orders actors' configuration: the store's timeout
// and the node's admission gate filled in.
func (n *node) ordersConfig() orders.Config {
	cfg := n.cfg.Orders
	cfg.StoreTimeout, cfg.Gate = n.cfg.Scylla.Timeout, &n.gate
	return cfg
}

// countRestarts feeds actor_restarts_total from the EventStream.
func countRestarts(sys *actor.ActorSystem, m *metrics.Metrics) {
	sys.EventStream.Subscribe(func(evt any) {
		if e, ok := evt.(*actor.SupervisorEvent); ok && e.Directive == actor.RestartDirective {
			m.ActorRestarted(actorLabel(e.Child))
		}
	})
}

// actorLabel names an actor for metrics without per-order cardinality:
// "coordinator/orders/<uuid>" becomes "coordinator/orders/order".
func actorLabel(pid *actor.PID) string {
	parts := strings.Split(pid.GetId(), "/")
	for i, p := range parts {
		if _, err := uuid.Parse(p); err == nil {
			parts[i] = "order"
		}
	}
	return strings.Join(parts, "/")
}
