package orders

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/google/uuid"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/outboxnode/outbox/actors/admission"
	"github.com/outboxnode/outbox/infra/tracing"
	"github.com/outboxnode/outbox/messages"
)

// tracer opens the command and batch spans; it follows the provider the node installs.
var tracer = tracing.Tracer("github.com/outboxnode/outbox/actors/orders")

// Commands from the router to an order actor. They are validated already and never leave
// this package or process, so they are plain Go values; the original requester is the
// envelope's sender, so the order actor answers it directly.
type (
	// parent is the command's trace context (invalid: the node starts a trace).
	createCmd struct {
		order  newOrder
		parent trace.SpanContext
	}
	updateCmd struct {
		update orderUpdate
		parent trace.SpanContext
	}
	cancelCmd struct {
		reason string
		parent trace.SpanContext
	}
	getCmd struct{}
	// passivate asks the router to stop the idle sender.
	passivate struct{}
	// idleCheck wakes an order actor to see whether it has been idle long enough.
	idleCheck struct{}
)

// order owns one order: it loads the row once, applies commands in arrival order and
// commits each accepted one as a Change before replying.
type order struct {
	id     uuid.UUID
	store  Store
	cfg    Config
	loaded bool // state and exists reflect the store
	exists bool
	state  State
	// grain is set for an order activated by the cluster: it passivates itself.
	grain bool

	lastActive  time.Time
	idleTimer   *time.Timer
	passivating bool
}

func (o *order) Receive(ctx actor.Context) {
	o.handle(ctx, ctx.Message())
}

// handle runs one message: a lifecycle event, or a command from the router
// or, for a grain, translated from the client's (grain.go).
func (o *order) handle(ctx actor.Context, msg any) {
	if _, ok := msg.(idleCheck); !ok {
		o.lastActive = time.Now()
	}
	switch m := msg.(type) {
	case *actor.Started:
		o.checkIdleIn(ctx, o.cfg.IdleTimeout)
	case idleCheck:
		o.checkIdle(ctx)
	case *actor.Restarting, *actor.Stopping:
		if o.idleTimer != nil {
			o.idleTimer.Stop()
		}
	case createCmd:
		o.apply(ctx, "CreateOrder", m.parent, func(State, bool) (transition, *RejectError) { return o.create(m.order), nil })
	case updateCmd:
		o.apply(ctx, "UpdateOrder", m.parent, func(cur State, exists bool) (transition, *RejectError) { return update(cur, exists, m.update) })
	case cancelCmd:
		o.apply(ctx, "CancelOrder", m.parent, func(cur State, exists bool) (transition, *RejectError) { return cancel(cur, exists, m.reason) })
	case getCmd:
		o.get(ctx)
	}
}

// Idle detection uses its own timer rather than protoactor's ReceiveTimeout, whose timer
// callback writes the actor context's fields unsynchronised (a data race under -race).

// checkIdleIn schedules an idleCheck after d; the timer only sends a message.
func (o *order) checkIdleIn(ctx actor.Context, d time.Duration) {
	root, self := ctx.ActorSystem().Root, ctx.Self()
	o.idleTimer = time.AfterFunc(d, func() { root.Send(self, idleCheck{}) })
}

// checkIdle passivates the actor if no command came for IdleTimeout, or checks again
// when it will have been idle that long.
func (o *order) checkIdle(ctx actor.Context) {
	if o.passivating {
		return
	}
	idle := time.Since(o.lastActive)
	if idle < o.cfg.IdleTimeout {
		o.checkIdleIn(ctx, o.cfg.IdleTimeout-idle)
		return
	}
	o.passivate(ctx)
}

// passivate asks the router to stop this actor; the router owns the decision so that no
// command is forwarded to an actor that is already gone.
func (o *order) passivate(ctx actor.Context) {
	o.passivating = true
	if o.grain {
		// The cluster forgets a stopped activation; the next command activates the order again.
		ctx.Poison(ctx.Self())
		return
	}
	ctx.Request(ctx.Parent(), passivate{})
}

// transition is the outcome of an accepted command before it is stamped and committed.
type transition struct {
	next         State
	eventType    string
	cancelReason string
}

func (o *order) create(n newOrder) transition {
	return transition{next: State{
		OrderID:    o.id,
		CustomerID: n.customerID,
		Status:     StatusCreated,
		Items:      n.items,
		TotalCents: n.totalCents,
		Currency:   n.currency,
	}, eventType: EventOrderCreated}
}

func update(cur State, exists bool, u orderUpdate) (transition, *RejectError) {
	if rej := mutable(cur, exists, "update"); rej != nil {
		return transition{}, rej
	}
	next := cur
	next.Status = StatusUpdated
	if u.totalCents != nil {
		next.TotalCents = *u.totalCents
	}
	if u.items != nil {
		next.Items = u.items
	}
	return transition{next: next, eventType: EventOrderUpdated}, nil
}

func cancel(cur State, exists bool, reason string) (transition, *RejectError) {
	if rej := mutable(cur, exists, "cancel"); rej != nil {
		return transition{}, rej
	}
	next := cur
	next.Status = StatusCancelled
	return transition{next: next, eventType: EventOrderCancelled, cancelReason: reason}, nil
}

// mutable reports why an order may not take the command verb, if it may not.
func mutable(cur State, exists bool, verb string) *RejectError {
	if !exists {
		return reject(messages.RejectCode_REJECT_CODE_NOT_FOUND, "order %s not found", cur.OrderID)
	}
	if cur.Status == StatusCancelled {
		return reject(messages.RejectCode_REJECT_CODE_INVALID_TRANSITION, "cannot %s order %s: it is cancelled", verb, cur.OrderID)
	}
	return nil
}

// apply runs one command: decide computes the transition from the current state, apply
// stamps version and time, commits the change with its event and only then replies and
// advances. The span "command <name>" covers it, a child of the command's trace context
// parent, and the event carries the span's traceparent to the relay and to Kafka.
func (o *order) apply(ctx actor.Context, name string, parent trace.SpanContext, decide func(cur State, exists bool) (transition, *RejectError)) {
	tctx, span, traceparent := tracing.Start(context.Background(), tracer, "command "+name, parent,
		trace.WithSpanKind(trace.SpanKindServer), trace.WithAttributes(attribute.String("order.id", o.id.String())))
	defer span.End()
	if o.cfg.Gate.Closed() {
		ctx.Respond(admission.Refusal())
		span.SetStatus(codes.Error, "shutting down")
		return
	}
	if rej := o.load(ctx); rej != nil {
		ctx.Respond(rej.Reply())
		span.SetStatus(codes.Error, rej.Error())
		return
	}
	t, rej := decide(o.state, o.exists)
	if rej != nil {
		ctx.Respond(rej.Reply())
		span.SetStatus(codes.Error, rej.Error())
		o.passivateIfMissing(ctx)
		return
	}
	s, eventType := t.next, t.eventType
	s.Version = o.state.Version + 1
	s.UpdatedAt = now()
	if s.CreatedAt.IsZero() {
		s.CreatedAt = s.UpdatedAt
	}
	ev, err := newEvent(s, eventType, t.cancelReason)
	if err != nil {
		ctx.Logger().Error("build outbox event", slog.String("order_id", o.id.String()), slog.Any("error", err))
		ctx.Respond(reject(messages.RejectCode_REJECT_CODE_INTERNAL, "build event: %v", err).Reply())
		span.SetStatus(codes.Error, err.Error())
		return
	}
	ev.Headers[tracing.Header] = traceparent
	span.SetAttributes(attribute.String("event.id", ev.GetEventId()), attribute.Int("order.version", int(s.Version)))
	if err := o.commit(tctx, Change{Order: s, Event: ev}); err != nil {
		span.SetStatus(codes.Error, err.Error())
		// Either another activation committed first (nothing was written) or the outcome
		// is unknown (a timed-out batch may still apply): in both cases forget the state
		// and read it again before the next command.
		o.loaded = false
		if errors.Is(err, ErrConflict) {
			// Expected while an order moves between nodes; the client retries on fresh state.
			ctx.Logger().Info("commit order: conflict", slog.String("order_id", o.id.String()), slog.Any("error", err))
			ctx.Respond(reject(messages.RejectCode_REJECT_CODE_CONFLICT, "commit %s: %v", eventType, err).Reply())
			return
		}
		ctx.Logger().Warn("commit order", slog.String("order_id", o.id.String()), slog.Any("error", err))
		ctx.Respond(reject(messages.RejectCode_REJECT_CODE_STORE_UNAVAILABLE, "commit %s: %v", eventType, err).Reply())
		return
	}
	o.state, o.exists = s, true
	ctx.Respond(&messages.CommandAccepted{OrderId: s.OrderID.String(), Version: s.Version, EventId: ev.GetEventId(), Traceparent: traceparent})
}

func (o *order) get(ctx actor.Context) {
	if o.cfg.Gate.Closed() {
		ctx.Respond(admission.Refusal())
		return
	}
	if rej := o.load(ctx); rej != nil {
		ctx.Respond(rej.Reply())
		return
	}
	if !o.exists {
		ctx.Respond(reject(messages.RejectCode_REJECT_CODE_NOT_FOUND, "order %s not found", o.id).Reply())
		o.passivateIfMissing(ctx)
		return
	}
	ctx.Respond(view(o.state))
}

// commit writes c in one batch under the span "scylla batch", bounded by StoreTimeout.
func (o *order) commit(ctx context.Context, c Change) error {
	ctx, span := tracer.Start(ctx, "scylla batch", trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(attribute.String("db.system", "scylladb"), attribute.String("event.id", c.Event.GetEventId())))
	defer span.End()
	ctx, cancel := context.WithTimeout(ctx, o.cfg.StoreTimeout)
	defer cancel()
	err := o.store.Commit(ctx, c)
	if err != nil {
		span.SetStatus(codes.Error, err.Error())
	}
	return err
}

// load reads the row unless the state is known already.
func (o *order) load(ctx actor.Context) *RejectError {
	if o.loaded {
		return nil
	}
	sctx, cancel := context.WithTimeout(context.Background(), o.cfg.StoreTimeout)
	defer cancel()
	s, found, err := o.store.Load(sctx, o.id)
	if err != nil {
		ctx.Logger().Warn("load order", slog.String("order_id", o.id.String()), slog.Any("error", err))
		return reject(messages.RejectCode_REJECT_CODE_STORE_UNAVAILABLE, "load order %s: %v", o.id, err)
	}
	if !found {
		s = State{OrderID: o.id}
	}
	o.state, o.exists, o.loaded = s, found, true
	return nil
}

// passivateIfMissing frees the actor of an order that does not exist at once, so probing
// unknown ids does not pile up idle actors.
func (o *order) passivateIfMissing(ctx actor.Context) {
	if o.loaded && !o.exists {
		o.passivate(ctx)
	}
}

// now is truncated to the store's timestamp precision, so a reloaded row equals the state.
func now() time.Time {
	return time.Now().UTC().Truncate(time.Millisecond)
}
