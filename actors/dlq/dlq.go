package dlq

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/google/uuid"

	"github.com/outboxnode/outbox/messages"
)

// Config bounds the actor's waits. Zero fields take the defaults.
type Config struct {
	// StoreTimeout bounds each store call.
	StoreTimeout time.Duration
	// ReleaseTimeout bounds the wait for the publisher to release an
	// aggregate. During a broker outage a release waits for the broker; the
	// operator then gets a "may still be running" answer while it carries on.
	ReleaseTimeout time.Duration
}

// Defaults of Config.
const (
	DefaultStoreTimeout   = 5 * time.Second
	DefaultReleaseTimeout = 30 * time.Second
)

// ErrInvalidConfig is wrapped by every Props error.
var ErrInvalidConfig = errors.New("invalid dlq config")

// SetDefaults fills zero fields with the defaults.
func (c *Config) SetDefaults() {
	if c.StoreTimeout == 0 {
		c.StoreTimeout = DefaultStoreTimeout
	}
	if c.ReleaseTimeout == 0 {
		c.ReleaseTimeout = DefaultReleaseTimeout
	}
}

// Validate rejects negative timeouts.
func (c Config) Validate() error {
	if c.StoreTimeout < 0 || c.ReleaseTimeout < 0 {
		return fmt.Errorf("%w: negative timeout", ErrInvalidConfig)
	}
	return nil
}

// Props validates cfg (after SetDefaults) and returns the props of the DLQ
// actor over store; publisher is the PID that releases aggregates (the
// Publisher actor).
func Props(cfg Config, store Store, publisher *actor.PID) (*actor.Props, error) {
	cfg.SetDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	switch {
	case store == nil || publisher == nil:
		return nil, fmt.Errorf("%w: store and publisher are required", ErrInvalidConfig)
	}
	return actor.PropsFromProducer(func() actor.Actor {
		return &dlqActor{cfg: cfg, store: store, publisher: publisher}
	}), nil
}

type dlqActor struct {
	cfg       Config
	store     Store
	publisher *actor.PID
}

// Receive implements actor.Actor.
func (d *dlqActor) Receive(ctx actor.Context) {
	switch m := ctx.Message().(type) {
	case *messages.DLQStore:
		c, cancel := d.storeCtx()
		defer cancel()
		res := &messages.DLQStored{}
		if err := d.store.Put(c, m.GetEntries()); err != nil {
			res.Error = fmt.Sprintf("store dead letters: %v", err)
		}
		ctx.Respond(res)
	case *messages.DLQPending:
		entries, err := d.list()
		res := &messages.DLQPendingResult{Entries: pending(entries, m.GetAggregateId())}
		if err != nil {
			res.Error = err.Error()
		}
		ctx.Respond(res)
	case *messages.DLQList:
		entries, err := d.list()
		if err != nil {
			ctx.Respond(rejected(messages.RejectCode_REJECT_CODE_STORE_UNAVAILABLE, err.Error()))
			return
		}
		SortOldestFirst(entries)
		ctx.Respond(&messages.DLQListResult{Letters: entries})
	case *messages.DLQSkip:
		d.skip(ctx, m.GetEventId())
	case *messages.DLQReplay:
		d.replay(ctx, m)
	}
}

func (d *dlqActor) storeCtx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), d.cfg.StoreTimeout)
}

func (d *dlqActor) list() ([]*messages.DeadLetter, error) {
	c, cancel := d.storeCtx()
	defer cancel()
	entries, err := d.store.List(c)
	if err != nil {
		return nil, fmt.Errorf("list dead letters: %w", err)
	}
	return entries, nil
}

// skip marks a dead head skipped and releases the events parked behind it.
func (d *dlqActor) skip(ctx actor.Context, eventID string) {
	e, rej := d.head(eventID, "skip")
	if rej != nil {
		ctx.Respond(rej)
		return
	}
	e.State = messages.DeadLetterState_DEAD_LETTER_STATE_SKIPPED
	c, cancel := d.storeCtx()
	defer cancel()
	if err := d.store.Put(c, []*messages.DeadLetter{e}); err != nil {
		ctx.Respond(rejected(messages.RejectCode_REJECT_CODE_STORE_UNAVAILABLE, fmt.Sprintf("skip %s: %v", eventID, err)))
		return
	}
	ctx.Logger().Info("dead letter skipped", slog.String("event_id", eventID))
	agg := e.GetEvent().GetAggregateId()
	if agg == "" {
		ctx.Respond(&messages.DLQResult{Affected: 1, Message: "skipped " + eventID})
		return
	}
	d.release(ctx, []string{agg}, 1, "skipped "+eventID)
}

// replay re-publishes one dead head, or every one, with what is parked
// behind it.
func (d *dlqActor) replay(ctx actor.Context, m *messages.DLQReplay) {
	if !m.GetAll() {
		e, rej := d.head(m.GetEventId(), "replay")
		if rej == nil && e.GetEvent().GetAggregateId() == "" {
			rej = rejected(messages.RejectCode_REJECT_CODE_INVALID_ARGUMENT, "replay "+m.GetEventId()+": the dead letter has no aggregate id; skip it instead")
		}
		if rej != nil {
			ctx.Respond(rej)
			return
		}
		d.release(ctx, []string{e.GetEvent().GetAggregateId()}, 0, "replay "+m.GetEventId())
		return
	}
	entries, err := d.list()
	if err != nil {
		ctx.Respond(rejected(messages.RejectCode_REJECT_CODE_STORE_UNAVAILABLE, err.Error()))
		return
	}
	var aggs []string
	seen := make(map[string]bool)
	for _, e := range pending(entries, "") {
		agg := e.GetEvent().GetAggregateId()
		if e.GetState() == messages.DeadLetterState_DEAD_LETTER_STATE_DEAD && agg != "" && !seen[agg] {
			seen[agg] = true
			aggs = append(aggs, agg)
		}
	}
	if len(aggs) == 0 {
		ctx.Respond(&messages.DLQResult{Message: "no dead letters to replay"})
		return
	}
	d.release(ctx, aggs, 0, fmt.Sprintf("replay of %d aggregate(s)", len(aggs)))
}

// head loads eventID and checks that it is a dead head: parked entries wait
// for theirs, replayed and skipped ones are done.
func (d *dlqActor) head(eventID, op string) (*messages.DeadLetter, *messages.CommandRejected) {
	// Event ids are timeuuids (the store's key type): anything else cannot
	// name a dead letter, and a store would refuse it as a bad query rather
	// than answer "not found". The store gets the canonical form, since
	// uuid.Parse also takes urn:uuid: and braces.
	id, err := uuid.Parse(eventID)
	if err != nil || id.Version() != 1 {
		return nil, rejected(messages.RejectCode_REJECT_CODE_INVALID_ARGUMENT, fmt.Sprintf("%s: event id must be a timeuuid (version 1 uuid), got %s", op, messages.QuoteInput(eventID)))
	}
	c, cancel := d.storeCtx()
	defer cancel()
	e, ok, err := d.store.Get(c, id.String())
	switch {
	case err != nil:
		return nil, rejected(messages.RejectCode_REJECT_CODE_STORE_UNAVAILABLE, fmt.Sprintf("%s %s: %v", op, eventID, err))
	case !ok:
		return nil, rejected(messages.RejectCode_REJECT_CODE_NOT_FOUND, fmt.Sprintf("%s: no dead letter %s", op, eventID))
	case e.GetState() == messages.DeadLetterState_DEAD_LETTER_STATE_PARKED:
		return nil, rejected(messages.RejectCode_REJECT_CODE_INVALID_TRANSITION,
			fmt.Sprintf("%s: %s is parked behind an earlier dead letter of aggregate %s; replay or skip that one", op, eventID, e.GetEvent().GetAggregateId()))
	case e.GetState() != messages.DeadLetterState_DEAD_LETTER_STATE_DEAD:
		return nil, rejected(messages.RejectCode_REJECT_CODE_INVALID_TRANSITION,
			fmt.Sprintf("%s: %s is already %s", op, eventID, StateName(e.GetState())))
	}
	return e, nil
}

// release asks the publisher to release each aggregate and answers the
// sender with the sum once all answered, from a goroutine: the publisher
// calls back into this actor (DLQPending, DLQStore) while it releases.
func (d *dlqActor) release(ctx actor.Context, aggs []string, affected int32, what string) {
	futures := make([]*actor.Future, len(aggs))
	for i, agg := range aggs {
		futures[i] = ctx.RequestFuture(d.publisher, &messages.ReleaseAggregate{AggregateId: agg}, d.cfg.ReleaseTimeout)
	}
	root, sender := ctx.ActorSystem().Root, ctx.Sender()
	go func() {
		res := &messages.DLQResult{Affected: affected}
		notes := []string{what}
		for i, f := range futures {
			r, err := f.Result()
			rr, _ := r.(*messages.ReleaseResult)
			switch {
			case err != nil:
				res.Failed++
				notes = append(notes, fmt.Sprintf("aggregate %s: no answer from the publisher (%v); the release may still be running, see dlq list", aggs[i], err))
			case rr == nil:
				res.Failed++
				notes = append(notes, fmt.Sprintf("aggregate %s: unexpected answer %T", aggs[i], r))
			default:
				res.Affected += rr.GetPublished()
				notes = append(notes, fmt.Sprintf("aggregate %s: %d event(s) published", aggs[i], rr.GetPublished()))
				if rr.GetError() != "" {
					res.Failed++
					notes = append(notes, fmt.Sprintf("aggregate %s: %s failed again: %s", aggs[i], rr.GetFailedEventId(), rr.GetError()))
				}
			}
		}
		res.Message = strings.Join(notes, "; ")
		if sender != nil {
			root.Send(sender, res)
		}
	}()
}

// StateName is the lower-case name of a state ("dead", "parked",
// "replayed", "skipped"), as stored and shown.
func StateName(s messages.DeadLetterState) string {
	return strings.ToLower(strings.TrimPrefix(s.String(), "DEAD_LETTER_STATE_"))
}

func rejected(code messages.RejectCode, reason string) *messages.CommandRejected {
	return &messages.CommandRejected{Code: code, Reason: reason}
}
