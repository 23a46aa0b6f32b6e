// Package orders is the command side of the data path: the orders actor receives CreateOrder,
// UpdateOrder, CancelOrder and GetOrder from the coordinator, validates them, and routes each
// to a per-order child that commits the new order row and its OutboxEvent through Store in
// one batch, replying CommandAccepted or CommandRejected.
//
// Once the node's admission gate is closed, or while the router itself stops, commands are
// refused before they are routed and no order actor is spawned: a stopping actor still
// receives messages (protoactor), and a child spawned then would keep it from terminating.
// Drain lets the node have every order actor answer what is queued for it before the tree
// stops.
package orders

import (
	"cmp"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/google/uuid"

	"github.com/outboxnode/outbox/actors/admission"
	"github.com/outboxnode/outbox/actors/dispatch"
	"github.com/outboxnode/outbox/actors/supervision"
	"github.com/outboxnode/outbox/messages"
)

// mailboxes runs the order actors' and grains' mailboxes: on kept goroutines,
// whose stacks have grown to the depth of a commit.
var mailboxes = dispatch.NewPool(300, 10*time.Second)

// Props returns the props of the orders router. childOpts are added to every per-order
// actor's props (e.g. supervision.Observe's middleware).
func Props(store Store, cfg Config, childOpts ...actor.PropsOption) (*actor.Props, error) {
	if store == nil {
		return nil, fmt.Errorf("orders: nil store")
	}
	return routerProps(cfg, func(r *router) { r.store, r.childOpts = store, childOpts })
}

// routerProps returns the props of a router that setup completes.
func routerProps(cfg Config, setup func(*router)) (*actor.Props, error) {
	cfg.SetDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	// A failing order actor is restarted and reloads its row; the restart is logged.
	budget := supervision.Budget{Restarts: 10, Window: 10 * time.Second}
	children := supervision.Strategy(actor.NewOneForOneStrategy(budget.Restarts, budget.Window, actor.DefaultDecider), budget)
	return actor.PropsFromProducer(func() actor.Actor {
		r := &router{
			cfg:      cfg,
			children: map[uuid.UUID]*actor.PID{},
			ids:      map[string]uuid.UUID{},
			stopping: map[uuid.UUID][]pending{},
		}
		setup(r)
		return r
	}, actor.WithSupervisor(children)), nil
}

// Drain asks the router, from inside the node once the admission gate is closed, to stop
// every order actor after it has answered the commands queued for it (refused, as the gate
// is closed); the router answers Drained when none is left. It is a plain Go value, so no
// remote peer can send it.
type Drain struct{}

// Drained answers Drain.
type Drained struct{}

// pending is a command held back while the previous actor of its order stops.
type pending struct {
	msg    any
	sender *actor.PID
}

// router owns the per-order actors: at most one per order id is alive at any time, so
// commands of one order are applied one after another.
type router struct {
	// grains, in cluster mode, take the commands instead of children of
	// this router (grain.go).
	grains    Grains
	store     Store
	cfg       Config
	childOpts []actor.PropsOption
	children  map[uuid.UUID]*actor.PID
	ids       map[string]uuid.UUID // child PID id -> order id, for Terminated
	// stopping holds the commands that arrived for an order whose actor is passivating;
	// a new actor takes them over once the old one has terminated.
	stopping map[uuid.UUID][]pending
	// halted is set when the router itself stops or restarts: it spawns nothing more.
	halted bool
	// drainers wait for the last order actor to terminate and, in cluster
	// mode, for the last grain answer.
	drainers []*actor.PID
	// asking counts the grain requests in flight (cluster mode).
	asking int
}

func (r *router) Receive(ctx actor.Context) {
	switch ctx.Message().(type) {
	case *messages.CreateOrder, *messages.UpdateOrder, *messages.CancelOrder, *messages.GetOrder:
		if rej := r.refusal(); rej != nil {
			ctx.Respond(rej)
			return
		}
	}
	switch m := ctx.Message().(type) {
	case *messages.CreateOrder, *messages.UpdateOrder, *messages.CancelOrder, *messages.GetOrder:
		id, fresh, cmd, rej := command(r.cfg, m, uuid.New)
		switch {
		case rej != nil:
			ctx.Respond(rej.Reply())
		case r.grains != nil:
			r.forward(ctx, id, m)
		default:
			r.route(ctx, id, fresh, cmd)
		}
	case grainAnswer:
		r.answer(ctx, m)
	case passivate:
		r.passivate(ctx)
	case Drain:
		r.drain(ctx)
	case *actor.Terminated:
		r.terminated(ctx, m.Who)
	case *actor.Stopping, *actor.Restarting:
		r.halted = true
	}
}

// refusal is the reply to a command that must not be routed, nil when it may be.
func (r *router) refusal() *messages.CommandRejected {
	switch {
	case r.cfg.Gate.Closed():
		return admission.Refusal()
	case r.halted:
		return reject(messages.RejectCode_REJECT_CODE_UNAVAILABLE, "orders is stopping").Reply()
	}
	return nil
}

// drain poisons every order actor: each answers what is already in its mailbox first.
func (r *router) drain(ctx actor.Context) {
	if ctx.Sender() != nil {
		r.drainers = append(r.drainers, ctx.Sender())
	}
	for _, pid := range r.children {
		ctx.Poison(pid)
	}
	r.drained(ctx)
}

// drained answers the drainers once no order actor is left and no grain
// answer is awaited.
func (r *router) drained(ctx actor.Context) {
	if len(r.ids) > 0 || r.asking > 0 {
		return
	}
	for _, d := range r.drainers {
		ctx.Send(d, Drained{})
	}
	r.drainers = nil
}

// command validates a client command into the order actor's command for
// order id; a create is for a new order newID, so fresh.
func command(cfg Config, msg any, newID func() uuid.UUID) (id uuid.UUID, fresh bool, cmd any, rej *RejectError) {
	switch m := msg.(type) {
	case *messages.CreateOrder:
		n, rej := validateCreate(cfg, m)
		parent, trej := parseTrace(m.GetTraceparent())
		return newID(), true, createCmd{order: n, parent: parent}, cmp.Or(rej, trej)
	case *messages.UpdateOrder:
		id, u, rej := validateUpdate(cfg, m)
		parent, trej := parseTrace(m.GetTraceparent())
		return id, false, updateCmd{update: u, parent: parent}, cmp.Or(rej, trej)
	case *messages.CancelOrder:
		id, reason, rej := validateCancel(m)
		parent, trej := parseTrace(m.GetTraceparent())
		return id, false, cancelCmd{reason: reason, parent: parent}, cmp.Or(rej, trej)
	case *messages.GetOrder:
		id, rej := parseOrderID(m.GetOrderId())
		return id, false, getCmd{}, rej
	}
	return uuid.UUID{}, false, nil, reject(messages.RejectCode_REJECT_CODE_INTERNAL, "not an order command: %T", msg)
}

// route hands cmd to the order's actor, spawning it when needed; fresh marks a new order
// that need not be loaded.
func (r *router) route(ctx actor.Context, id uuid.UUID, fresh bool, cmd any) {
	if held, ok := r.stopping[id]; ok {
		r.stopping[id] = append(held, pending{msg: cmd, sender: ctx.Sender()})
		return
	}
	pid, ok := r.children[id]
	if !ok {
		var err error
		if pid, err = r.spawn(ctx, id, fresh); err != nil {
			ctx.Respond(reject(messages.RejectCode_REJECT_CODE_INTERNAL, "%v", err).Reply())
			return
		}
	}
	ctx.RequestWithCustomSender(pid, cmd, ctx.Sender())
}

func (r *router) spawn(ctx actor.Context, id uuid.UUID, fresh bool) (*actor.PID, error) {
	// Only the first incarnation of a new order may skip the load: after a restart the
	// order may exist in the store.
	var incarnated atomic.Bool
	props := actor.PropsFromProducer(func() actor.Actor {
		return &order{id: id, store: r.store, cfg: r.cfg, loaded: fresh && !incarnated.Swap(true)}
	}, append([]actor.PropsOption{actor.WithDispatcher(mailboxes)}, r.childOpts...)...)
	pid, err := ctx.SpawnNamed(props, id.String())
	if err != nil {
		return nil, fmt.Errorf("spawn order actor %s: %w", id, err)
	}
	r.children[id] = pid
	r.ids[pid.Id] = id
	return pid, nil
}

// passivate stops an idle order actor. Poison is queued behind any command already
// forwarded to it, so those are still answered.
func (r *router) passivate(ctx actor.Context) {
	sender := ctx.Sender()
	if sender == nil {
		return
	}
	id, ok := r.ids[sender.Id]
	if !ok || !samePID(r.children[id], sender) {
		return
	}
	delete(r.children, id)
	r.stopping[id] = nil
	ctx.Poison(sender)
}

// terminated forgets a stopped order actor (passivated, or stopped by its supervisor)
// and replays the commands held for its order on a new actor.
func (r *router) terminated(ctx actor.Context, who *actor.PID) {
	id, ok := r.ids[who.Id]
	if !ok {
		return
	}
	delete(r.ids, who.Id)
	if samePID(r.children[id], who) {
		delete(r.children, id)
	}
	held := r.stopping[id]
	delete(r.stopping, id)
	defer r.drained(ctx)
	if len(held) == 0 {
		return
	}
	if rej := r.refusal(); rej != nil {
		for _, p := range held {
			if p.sender != nil {
				ctx.Send(p.sender, rej)
			}
		}
		return
	}
	pid, err := r.spawn(ctx, id, false)
	if err != nil {
		ctx.Logger().Error("respawn order actor", slog.String("order_id", id.String()), slog.Any("error", err))
		for _, p := range held {
			if p.sender != nil {
				ctx.Send(p.sender, reject(messages.RejectCode_REJECT_CODE_INTERNAL, "%v", err).Reply())
			}
		}
		return
	}
	for _, p := range held {
		ctx.RequestWithCustomSender(pid, p.msg, p.sender)
	}
}

func samePID(a, b *actor.PID) bool {
	return a != nil && b != nil && a.Equal(b)
}
