// Package cdcstream is the relay's middle actor: infra/cdc (the ScyllaDB
// CDC reader over outbox_messages) -> CdcStream -> Publisher (its child) ->
// Kafka. It owns the reader for its lifetime, sends every event to the
// publisher as a request, and acknowledges the event to the reader when
// the publisher's EventAck arrives (at the stream's acker), so that each
// stream is checkpointed only past events that are published,
// dead-lettered or parked.
//
// The reader's callbacks run on the library's goroutines; they only Send a
// Delivery to this actor and never touch its state. The in-flight window of
// the source bounds what can be queued here: the reader blocks while it is
// full (backpressure), so no queue grows without bound during an outage.
//
// It also guards the lag: every Tick it exports cdc_lag_seconds per stream
// (the age of the oldest committed event not yet acknowledged, whether the
// reader returned it or not), and once that is older than LagShare of the
// CDC log TTL, or while reading the log fails, LagQuery reports degraded;
// a warning gives the time left before events start to expire unpublished.
package cdcstream

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/outboxnode/outbox/actors/supervision"
)

// PublisherName is the publisher child's name: its PID is
// "<cdcstream id>/publisher".
const PublisherName = "publisher"

// Deps are the stream's collaborators; Source and Publisher are required.
type Deps struct {
	Source Source
	// Publisher is spawned as the child that takes PublishEvent and answers
	// EventAck (actors/publisher).
	Publisher *actor.Props
	Metrics   Metrics
}

// Props validates cfg (after SetDefaults) and deps and returns the props of
// the stream actor.
//
// A failure of the publisher escalates: the stream fails with it, and its
// own supervisor restarts both. A publisher restarted alone would lose its
// queue while later events of the same aggregates still wait in its
// mailbox, and publish them first; a restarted stream instead discards
// that mailbox and re-reads everything after its checkpoint, in order
// (duplicates stay within the in-flight window).
func Props(cfg Config, deps Deps) (*actor.Props, error) {
	cfg.SetDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if deps.Source == nil || deps.Publisher == nil {
		return nil, fmt.Errorf("%w: source and publisher props are required", ErrInvalidConfig)
	}
	if deps.Metrics == nil {
		deps.Metrics = nopMetrics{}
	}
	escalate := actor.NewOneForOneStrategy(0, 0, func(any) actor.Directive { return actor.EscalateDirective })
	return actor.PropsFromProducer(func() actor.Actor {
		return &stream{cfg: cfg, deps: deps}
	}, actor.WithSupervisor(supervision.Strategy(escalate, supervision.Budget{}))), nil
}

// Local messages of the actor to itself.
type (
	tick          struct{}
	restartReader struct{}
	// A reader run is identified by its done channel, unique even across
	// restarts of the actor: what an earlier run sent is ignored (its
	// events are read again by the current run, in order).
	//
	// delivered is one event of run.
	delivered struct {
		run chan struct{}
		d   Delivery
	}
	// readerStopped reports the end of run.
	readerStopped struct {
		run chan struct{}
		err error
	}
)

type stream struct {
	cfg  Config
	deps Deps
	log  *slog.Logger

	publisher *actor.PID
	acks      *acker
	acksPID   *actor.PID
	stopping  bool

	cancel   context.CancelFunc
	done     chan struct{}
	failures int
	// readerErr is the last reader failure while it waits to restart.
	readerErr error
	stopTick  chan struct{}

	lag lagGuard
}

// Receive implements actor.Actor.
func (s *stream) Receive(ctx actor.Context) {
	switch m := ctx.Message().(type) {
	case *actor.Started:
		s.start(ctx)
	case delivered:
		if m.run == s.done && !s.stopping {
			s.deliver(ctx, &m.d)
		}
	case tick:
		s.tick(time.Now())
	case readerStopped:
		s.readerStopped(ctx, m)
	case restartReader:
		if !s.stopping && s.cancel == nil {
			s.startReader(ctx)
		}
	case *LagQuery:
		ctx.Respond(s.report())
	case *actor.Terminated:
		// The publisher stopped on its own: fail, so that the coordinator
		// restarts the stream with a new publisher.
		if m.GetWho().Equal(s.publisher) && !s.stopping {
			panic(fmt.Errorf("publisher %s stopped", m.GetWho().GetId()))
		}
	case *actor.Stopping:
		s.stop()
	case *actor.Restarting:
		s.stop()
		s.finish(ctx)
	case *actor.Stopped:
		s.finish(ctx)
	}
}

func (s *stream) start(ctx actor.Context) {
	s.log = ctx.Logger().With(slog.String("actor", ctx.Self().GetId()))
	s.acks = newAcker(s.log)
	acksPID, ok := ctx.ActorSystem().ProcessRegistry.Add(s.acks, ctx.Self().GetId()+"$acks")
	if !ok {
		panic(fmt.Errorf("register acker %s: already registered", acksPID.GetId()))
	}
	s.acksPID = acksPID
	s.lag = lagGuard{cfg: s.cfg, log: s.log, metrics: s.deps.Metrics}
	pid, err := ctx.SpawnNamed(s.deps.Publisher, PublisherName)
	if err != nil {
		panic(fmt.Errorf("spawn publisher: %w", err))
	}
	s.publisher = pid
	s.startReader(ctx)
	s.stopTick = make(chan struct{})
	root, self, stop, every := ctx.ActorSystem().Root, ctx.Self(), s.stopTick, s.cfg.Tick
	go func() {
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				root.Send(self, tick{})
			}
		}
	}()
}

// startReader runs the source on a goroutine; its callback only sends
// Deliveries to this actor.
func (s *stream) startReader(ctx actor.Context) {
	root, self := ctx.ActorSystem().Root, ctx.Self()
	rctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	s.cancel, s.done = cancel, done
	go func() {
		err := s.deps.Source.Run(rctx, func(d Delivery) { root.Send(self, delivered{run: done, d: d}) })
		close(done)
		root.Send(self, readerStopped{run: done, err: err})
	}()
}

func (s *stream) readerStopped(ctx actor.Context, m readerStopped) {
	if m.run != s.done || s.stopping {
		return
	}
	s.cancel()
	s.cancel, s.done = nil, nil
	s.failures++
	s.readerErr = m.err
	if m.err == nil {
		s.readerErr = fmt.Errorf("reader stopped")
	}
	delay := min(s.cfg.RetryMin<<min(s.failures-1, 16), s.cfg.RetryMax)
	s.log.Warn("cdc reader failed, restarting", slog.Any("err", s.readerErr), slog.Duration("in", delay), slog.Int("failures", s.failures))
	root, self := ctx.ActorSystem().Root, ctx.Self()
	time.AfterFunc(delay, func() { root.Send(self, restartReader{}) })
}

func (s *stream) deliver(ctx actor.Context, d *Delivery) {
	s.failures, s.readerErr = 0, nil
	s.acks.add(d)
	ctx.RequestWithCustomSender(s.publisher, d.Request, s.acksPID)
}

func (s *stream) tick(now time.Time) {
	if s.stopping {
		return
	}
	s.lag.check(now, s.deps.Source.Lags(now), s.deps.Source.ReadErr())
}

// stop cancels the reader and ends the ticker without waiting: the
// publisher (stopped next by protoactor) drains its batch in flight, whose
// acks still reach the acker, and finish saves the progress. Waiting for
// the reader here would add a query in flight (not cancellable) to every
// stop, before the drain.
func (s *stream) stop() {
	s.stopping = true
	if s.stopTick != nil {
		close(s.stopTick)
		s.stopTick = nil
	}
	if s.cancel != nil {
		s.cancel()
	}
}

// finish saves the progress acknowledged so far, retires the acker (a
// later ack is a dead letter, its event is read again), then waits for the
// cancelled reader to end; both within one StopTimeout.
func (s *stream) finish(ctx actor.Context) {
	ctx.ActorSystem().ProcessRegistry.Remove(s.acksPID)
	fctx, cancel := context.WithTimeout(context.Background(), s.cfg.StopTimeout)
	defer cancel()
	if err := s.deps.Source.Flush(fctx); err != nil {
		s.log.Error("save cdc progress", slog.Any("err", err))
	} else {
		s.log.Info("cdc progress saved", slog.Int("unacknowledged", s.acks.len()))
	}
	if s.done == nil {
		return
	}
	select {
	case <-s.done:
	case <-fctx.Done():
		s.log.Warn("cdc reader did not stop in time", slog.Duration("timeout", s.cfg.StopTimeout))
	}
}

func (s *stream) report() *LagReport {
	r := s.lag.report()
	if s.readerErr != nil {
		r.ReaderError = s.readerErr.Error()
	}
	return r
}
