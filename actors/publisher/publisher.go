package publisher

import (
	"context"
	"log/slog"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/outboxnode/outbox/messages"
)

// Props validates cfg (after SetDefaults) and deps, and returns the props of
// a publisher actor. It runs one job at a time (load, batch or release) on a
// goroutine of its own, so its mailbox keeps accepting events meanwhile, and
// keeps jobs strictly sequential so that per-aggregate order holds.
func Props(cfg Config, deps Deps) (*actor.Props, error) {
	cfg.SetDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if err := deps.validate(); err != nil {
		return nil, err
	}
	return actor.PropsFromProducer(func() actor.Actor {
		return &publisher{w: &worker{cfg: cfg, deps: deps}}
	}), nil
}

// jobDone tells the actor that the job in flight left its result.
type jobDone struct{}

// lingerElapsed ends the wait for more events of a partial batch.
type lingerElapsed struct{}

type publisher struct {
	w     *worker
	queue []*item
	// pending holds every queued or in-flight item by event id, so that a
	// request sent again (say after the requester's timeout) joins the first
	// instead of being published twice: the queue stays bounded by the
	// distinct events of the stream's window.
	pending  map[string]*item
	releases []releaseJob
	// parked maps an aggregate whose head is dead-lettered to that head's
	// event id; its later events are parked until a release.
	parked map[string]string
	loaded bool
	busy   bool
	// drain is set while the job in flight is a batch: stopping waits for
	// it (its acks let the stream save progress) instead of cancelling it.
	drain     bool
	lingering bool
	// stopping is closed by stop (worker.stopping).
	stopping chan struct{}
	results  chan any
	jobs     context.Context
	cancel   context.CancelFunc
}

// Receive implements actor.Actor.
func (p *publisher) Receive(ctx actor.Context) {
	switch m := ctx.Message().(type) {
	case *actor.Started:
		p.start(ctx)
	case *messages.PublishEvent:
		p.enqueue(ctx, m)
	case *messages.ReleaseAggregate:
		if m.GetAggregateId() == "" {
			ctx.Respond(&messages.ReleaseResult{Error: "release: aggregate_id is required"})
			return
		}
		p.releases = append(p.releases, releaseJob{aggregateID: m.GetAggregateId(), sender: ctx.Sender()})
		p.schedule(ctx)
	case jobDone:
		select {
		case r := <-p.results:
			p.handle(ctx, r)
			p.schedule(ctx)
		default:
		}
	case lingerElapsed:
		p.lingering = false
		p.schedule(ctx)
	case *actor.Stopping, *actor.Restarting:
		p.stop(ctx)
	}
}

func (p *publisher) start(ctx actor.Context) {
	p.w.log = ctx.Logger().With(slog.String("actor", ctx.Self().GetId()))
	p.parked = make(map[string]string)
	p.pending = make(map[string]*item)
	p.results = make(chan any, 1)
	p.stopping = make(chan struct{})
	p.w.stopping = p.stopping
	p.jobs, p.cancel = context.WithCancel(context.Background())
	p.run(ctx, false, func(c context.Context) any { return p.w.load(c) })
}

// stop drains a batch in flight, within DrainTimeout, so that its acks
// reach the stream before it saves progress; then cancels the job. A batch
// that is paused (broker or DLQ unavailable) gives up at once instead of
// waiting out DrainTimeout: what it did not ack is read again. A load or
// release job is cancelled at once: it has no acks to deliver, and it waits
// on the DLQ actor, which may be stopping too (a release cut short is
// published again by the next one: at-least-once).
func (p *publisher) stop(ctx actor.Context) {
	close(p.stopping)
	if p.busy && p.drain {
		t := time.NewTimer(p.w.cfg.DrainTimeout)
		select {
		case r := <-p.results:
			p.handle(ctx, r)
		case <-t.C:
			p.w.log.Warn("stopping with a batch in flight", slog.Int("queued", len(p.queue)))
		}
		t.Stop()
	}
	p.cancel()
}

func (p *publisher) enqueue(ctx actor.Context, m *messages.PublishEvent) {
	if m.GetEvent().GetEventId() == "" {
		ctx.Respond(&messages.CommandRejected{
			Code:   messages.RejectCode_REJECT_CODE_INVALID_ARGUMENT,
			Reason: "publish: event with an event_id is required",
		})
		return
	}
	id := m.GetEvent().GetEventId()
	if it, ok := p.pending[id]; ok {
		it.senders = append(it.senders, ctx.Sender())
		return
	}
	it := &item{req: m, senders: []*actor.PID{ctx.Sender()}}
	p.pending[id] = it
	p.queue = append(p.queue, it)
	if p.loaded && !p.busy && !p.lingering && len(p.queue) == 1 && p.w.cfg.Linger > 0 {
		p.lingering = true
		root, self := ctx.ActorSystem().Root, ctx.Self()
		time.AfterFunc(p.w.cfg.Linger, func() { root.Send(self, lingerElapsed{}) })
		return
	}
	p.schedule(ctx)
}

// schedule starts the next job when none is in flight: releases first, so
// that dead letters go out before the later events of their aggregate.
func (p *publisher) schedule(ctx actor.Context) {
	if p.busy || !p.loaded {
		return
	}
	if len(p.releases) > 0 {
		job := p.releases[0]
		p.releases = p.releases[1:]
		p.run(ctx, false, func(c context.Context) any { return p.w.release(c, job) })
		return
	}
	if len(p.queue) == 0 || (p.lingering && len(p.queue) < p.w.cfg.MaxBatch) {
		return
	}
	p.lingering = false
	b := p.take()
	p.run(ctx, true, func(c context.Context) any { return p.w.publishBatch(c, b) })
}

// take moves the next batch out of the queue: at most MaxBatch events and
// one publishable event per aggregate; later events of an aggregate already
// in the batch stay queued, in order.
func (p *publisher) take() batch {
	var b batch
	taken := make(map[string]bool)
	rest := make([]*item, 0, len(p.queue))
	for i, it := range p.queue {
		if b.size() >= p.w.cfg.MaxBatch {
			rest = append(rest, p.queue[i:]...)
			break
		}
		agg := it.event().GetAggregateId()
		head, parked := p.parked[agg]
		switch {
		case taken[agg] && !parked:
			rest = append(rest, it)
		case parked:
			b.park = append(b.park, parkedItem{it, head})
		case it.req.GetDecodeError() != "":
			b.dead = append(b.dead, it)
			taken[agg] = true
		default:
			b.publish = append(b.publish, it)
			taken[agg] = true
		}
	}
	p.queue = rest
	return b
}

// run starts job on a goroutine of its own; drain says whether stop waits
// for it.
func (p *publisher) run(ctx actor.Context, drain bool, job func(context.Context) any) {
	p.busy, p.drain = true, drain
	root, self, results, jobs := ctx.ActorSystem().Root, ctx.Self(), p.results, p.jobs
	go func() {
		results <- job(jobs)
		root.Send(self, jobDone{})
	}()
}

func (p *publisher) handle(ctx actor.Context, r any) {
	p.busy = false
	switch r := r.(type) {
	case loadResult:
		p.restore(r)
	case batchResult:
		p.batchDone(ctx, r)
	case releaseResult:
		p.releaseDone(ctx, r)
	}
}
