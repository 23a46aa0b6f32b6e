package orders

import (
	"fmt"
	"log/slog"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/asynkron/protoactor-go/cluster"
	"github.com/google/uuid"

	"github.com/outboxnode/outbox/messages"
)

// GrainKind is the cluster kind of order grains: one virtual actor per order, identity its id.
const GrainKind = "order"

// Grains asks the grain of order id, activating it where the cluster places it, and returns
// its answer. An error means no answer came: msg may or may not have been applied.
type Grains func(id uuid.UUID, msg any) (any, error)

// GrainRouterProps returns the props of the orders router in cluster mode: it validates each
// command and forwards it to the order's grain, which answers the requester. The grain's
// placement serializes an order's commands in the normal case; its store's conditional
// commit makes a second activation's commit fail (CONFLICT) when placement is wrong.
func GrainRouterProps(cfg Config, grains Grains) (*actor.Props, error) {
	if grains == nil {
		return nil, fmt.Errorf("orders: nil grains")
	}
	return routerProps(cfg, func(r *router) { r.grains = grains })
}

// forward asks the grain of order id off the router's goroutine (locating a grain may wait
// for the cluster to activate it) and hands the answer back to the router, which replies to
// the requester itself: its middleware sees every reply, and a drain waits for them.
func (r *router) forward(ctx actor.Context, id uuid.UUID, msg any) {
	self, root, sender, grains := ctx.Self(), ctx.ActorSystem().Root, ctx.Sender(), r.grains
	r.asking++
	go func() {
		res, err := grains(id, msg)
		if err != nil {
			res = reject(messages.RejectCode_REJECT_CODE_UNAVAILABLE, "order %s: %v", id, err).Reply()
		}
		root.Send(self, grainAnswer{to: sender, msg: res})
	}()
}

// grainAnswer is a grain's answer (or the failure to get one) for the requester to.
type grainAnswer struct {
	to  *actor.PID
	msg any
}

// answer passes a grain's answer on.
func (r *router) answer(ctx actor.Context, a grainAnswer) {
	r.asking--
	if a.to != nil {
		ctx.Send(a.to, a.msg)
	}
	r.drained(ctx)
}

// GrainProps returns the props of the order grain kind over store (a store whose commit is
// conditional on the order's version, for the reason GrainRouterProps gives).
func GrainProps(store Store, cfg Config) (*actor.Props, error) {
	cfg.SetDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if store == nil {
		return nil, fmt.Errorf("orders: nil store")
	}
	return actor.PropsFromProducer(func() actor.Actor { return &grain{store: store, cfg: cfg} }, actor.WithDispatcher(mailboxes)), nil
}

// grain is the order actor of the order its cluster identity names.
type grain struct {
	store Store
	cfg   Config
	order *order
}

func (g *grain) Receive(ctx actor.Context) {
	switch m := ctx.Message().(type) {
	case *cluster.ClusterInit:
		id, err := uuid.Parse(m.Identity.GetIdentity())
		if err != nil {
			ctx.Logger().Error("order grain with a bad identity", slog.String("identity", m.Identity.GetIdentity()), slog.Any("error", err))
			ctx.Poison(ctx.Self())
			return
		}
		g.order = &order{id: id, store: g.store, cfg: g.cfg, grain: true}
		g.order.handle(ctx, &actor.Started{})
	case *messages.CreateOrder, *messages.UpdateOrder, *messages.CancelOrder, *messages.GetOrder:
		g.command(ctx, m)
	default:
		if g.order != nil {
			g.order.handle(ctx, m)
		}
	}
}

// command runs a client command on the grain's order.
func (g *grain) command(ctx actor.Context, msg any) {
	if g.order == nil {
		ctx.Respond(reject(messages.RejectCode_REJECT_CODE_UNAVAILABLE, "order grain not initialised").Reply())
		return
	}
	id, fresh, cmd, rej := command(g.cfg, msg, func() uuid.UUID { return g.order.id })
	switch {
	case rej != nil:
		ctx.Respond(rej.Reply())
		return
	case id != g.order.id:
		ctx.Respond(invalid("command for order %s sent to the grain of order %s", id, g.order.id).Reply())
		return
	case fresh && !g.order.loaded:
		// A create is for a new id: no need to read it. Were the id taken, the store's
		// conditional commit would refuse it.
		g.order.loaded = true
	}
	g.order.handle(ctx, cmd)
}
