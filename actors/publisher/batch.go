package publisher

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/outboxnode/outbox/infra/tracing"
	"github.com/outboxnode/outbox/messages"
)

// tracer opens the "kafka publish" spans; it follows the provider the node installs.
var tracer = tracing.Tracer("github.com/outboxnode/outbox/actors/publisher")

// undecodablePrefix starts the error of a dead letter whose row could not be
// decoded: such an entry can never be published, so a replay fails it again
// and only a skip releases its aggregate.
const undecodablePrefix = "undecodable row: "

// item is one event waiting for its ack. Jobs read only req; senders
// belong to the actor, which adds the requesters of duplicates to it.
type item struct {
	req     *messages.PublishEvent
	senders []*actor.PID
}

func (it *item) event() *messages.OutboxEvent { return it.req.GetEvent() }

// parkedItem is an event held behind the dead head of its aggregate.
type parkedItem struct {
	*item
	head string
}

// batch is the work of one job, chosen by the actor and run off it. It holds
// at most one publishable event per aggregate, so a permanent failure can
// never let a later event of the same aggregate through before it.
type batch struct {
	publish []*item
	dead    []*item // undecodable rows
	park    []parkedItem
}

func (b *batch) size() int { return len(b.publish) + len(b.dead) + len(b.park) }

// outcome is the durable result of one item.
type outcome struct {
	*item
	reason string
}

type batchResult struct {
	published []*item
	dead      []outcome
	parked    []outcome
	// err is set when the job was cancelled (stop): items without an
	// outcome are not acked, and the stream sends them again.
	err error
}

type releaseJob struct {
	aggregateID string
	sender      *actor.PID
}

type releaseResult struct {
	job        releaseJob
	published  int
	failedHead string
	err        error
}

type loadResult struct {
	entries []*messages.DeadLetter
	err     error
}

// failure is a record Kafka refused for good.
type failure struct {
	*item
	err      error
	attempts int
}

// worker does the blocking work of jobs; it is immutable once the actor
// started, so jobs may use it from their goroutine.
type worker struct {
	cfg  Config
	deps Deps
	log  *slog.Logger
	// stopping is closed when the actor stops: jobs stop waiting (pause).
	stopping <-chan struct{}
}

// errStopping is a job's error when it gave up waiting because the actor
// is stopping.
var errStopping = errors.New("publisher stopping")

// publishBatch publishes b, then stores the dead letters of what failed
// for good, of the undecodable rows and of the parked events.
func (w *worker) publishBatch(ctx context.Context, b batch) batchResult {
	published, failed, err := w.publishAll(ctx, b.publish)
	res := batchResult{published: published}
	if err != nil {
		res.err = err
		return res
	}
	now := time.Now()
	var entries []*messages.DeadLetter
	for _, f := range failed {
		reason := f.err.Error()
		entries = append(entries, newDeadLetter(f.event(), w.deps.Producer.Topic(f.event()), reason, f.attempts, now, messages.DeadLetterState_DEAD_LETTER_STATE_DEAD))
		res.dead = append(res.dead, outcome{f.item, reason})
	}
	for _, it := range b.dead {
		reason := undecodablePrefix + it.req.GetDecodeError()
		entries = append(entries, newDeadLetter(it.event(), "", reason, 0, now, messages.DeadLetterState_DEAD_LETTER_STATE_DEAD))
		res.dead = append(res.dead, outcome{it, reason})
	}
	for _, p := range b.park {
		reason, topic := "parked behind dead-lettered event "+p.head, ""
		if p.req.GetDecodeError() != "" {
			reason = undecodablePrefix + p.req.GetDecodeError()
		} else {
			topic = w.deps.Producer.Topic(p.event())
		}
		entries = append(entries, newDeadLetter(p.event(), topic, reason, 0, now, messages.DeadLetterState_DEAD_LETTER_STATE_PARKED))
		res.parked = append(res.parked, outcome{p.item, reason})
	}
	if err := w.store(ctx, entries...); err != nil {
		res.dead, res.parked, res.err = nil, nil, err
	}
	return res
}

// publishAll publishes items under the policy until each is acknowledged
// or failed for good. A broker outage pauses it: once the policy gives up
// it waits PauseDelay and starts over with the records still unpublished,
// until ctx ends (its only error).
func (w *worker) publishAll(ctx context.Context, items []*item) (published []*item, failed []failure, err error) {
	spans := w.startSpans(ctx, items)
	defer func() { endSpans(spans, published, failed, err) }()
	remaining, attempts, pauses := items, 0, 0
	for len(remaining) > 0 {
		err := w.deps.Policy.Run(ctx, Operation, func(ctx context.Context) error {
			attempts++
			errs := w.deps.Producer.Publish(ctx, events(remaining))
			if len(errs) != len(remaining) {
				return fmt.Errorf("producer returned %d outcomes for %d records", len(errs), len(remaining))
			}
			var retry []*item
			var cause error
			for i, e := range errs {
				switch {
				case e == nil:
					published = append(published, remaining[i])
				case w.deps.IsPermanent(e):
					failed = append(failed, failure{remaining[i], e, attempts})
				default:
					retry = append(retry, remaining[i])
					cause = e
				}
			}
			remaining = retry
			if len(retry) > 0 {
				return fmt.Errorf("publish: %d of %d records failed: %w", len(retry), len(errs), cause)
			}
			return nil
		})
		if err == nil {
			break
		}
		// One warning per outage and batch; the retries behind it are debug.
		level := slog.LevelWarn
		if pauses++; pauses > 1 {
			level = slog.LevelDebug
		}
		if err := w.pause(ctx, level, "kafka unavailable, batch paused", err, slog.Int("records", len(remaining))); err != nil {
			return published, failed, err
		}
	}
	if pauses > 0 {
		w.log.Info("kafka available again, batch resumed", slog.Int("pauses", pauses))
	}
	return published, failed, nil
}

// startSpans opens one "kafka publish" span per item, a child of the command
// that wrote its event, open until the event is acknowledged or given up;
// none (nil) while tracing is off.
func (w *worker) startSpans(ctx context.Context, items []*item) map[*item]trace.Span {
	if !tracing.On() {
		return nil
	}
	spans := make(map[*item]trace.Span, len(items))
	for _, it := range items {
		span := tracing.StartFromHeaders(ctx, tracer, "kafka publish", trace.SpanKindProducer, it.event().GetHeaders())
		if span.IsRecording() {
			span.SetAttributes(
				attribute.String("messaging.system", "kafka"),
				attribute.String("messaging.destination.name", w.deps.Producer.Topic(it.event())),
				attribute.String("event.id", it.event().GetEventId()))
		}
		spans[it] = span
	}
	return spans
}

// endSpans ends the publish spans: the published ones fine, the failed ones
// and, when the job stopped (err), the unfinished ones with an error status.
func endSpans(spans map[*item]trace.Span, published []*item, failed []failure, err error) {
	for _, it := range published {
		if span, ok := spans[it]; ok {
			span.End()
			delete(spans, it)
		}
	}
	for _, f := range failed {
		if span, ok := spans[f.item]; ok {
			span.SetAttributes(attribute.Int("publish.attempts", f.attempts))
			span.SetStatus(codes.Error, f.err.Error())
			span.End()
			delete(spans, f.item)
		}
	}
	for _, span := range spans {
		if err != nil {
			span.SetStatus(codes.Error, err.Error())
		}
		span.End()
	}
}

// release publishes, oldest first, the pending dead letters of one
// aggregate, marking each replayed, and stops at the first that fails
// again: that one is marked dead and becomes the aggregate's head.
func (w *worker) release(ctx context.Context, job releaseJob) releaseResult {
	res := releaseResult{job: job}
	entries, err := w.deps.DeadLetters.Pending(ctx, job.aggregateID)
	if err != nil {
		res.err = fmt.Errorf("load dead letters of aggregate %s: %w", job.aggregateID, err)
		return res
	}
	for _, e := range entries {
		failed, err := w.republish(ctx, e)
		if err != nil {
			res.err = err
			return res
		}
		if failed != nil {
			e.State = messages.DeadLetterState_DEAD_LETTER_STATE_DEAD
			e.Error = failed.err.Error()
			e.Attempts += int32(failed.attempts)
			e.LastFailedAt = timestamppb.Now()
		} else {
			e.State = messages.DeadLetterState_DEAD_LETTER_STATE_REPLAYED
		}
		if err := w.store(ctx, e); err != nil {
			res.err = err
			return res
		}
		if failed != nil {
			res.failedHead, res.err = e.GetEvent().GetEventId(), failed.err
			return res
		}
		res.published++
	}
	return res
}

// republish publishes one dead letter's event and returns its failure, if
// it failed for good.
func (w *worker) republish(ctx context.Context, e *messages.DeadLetter) (*failure, error) {
	if strings.HasPrefix(e.GetError(), undecodablePrefix) {
		return &failure{err: fmt.Errorf("%s", e.GetError())}, nil
	}
	_, failed, err := w.publishAll(ctx, []*item{{req: &messages.PublishEvent{Event: e.GetEvent()}}})
	if err != nil || len(failed) == 0 {
		return nil, err
	}
	return &failed[0], nil
}

// load reads every pending dead letter, waiting out store outages.
func (w *worker) load(ctx context.Context) loadResult {
	for {
		entries, err := w.deps.DeadLetters.Pending(ctx, "")
		if err == nil {
			return loadResult{entries: entries}
		}
		if err := w.pause(ctx, slog.LevelWarn, "dead letters unavailable, start delayed", err); err != nil {
			return loadResult{err: err}
		}
	}
}

// store writes entries, waiting out store outages: an event is acked only
// once its dead letter is durable.
func (w *worker) store(ctx context.Context, entries ...*messages.DeadLetter) error {
	for len(entries) > 0 {
		err := w.deps.DeadLetters.Store(ctx, entries)
		if err == nil {
			return nil
		}
		if err := w.pause(ctx, slog.LevelWarn, "dead letter store failed, retrying", err, slog.Int("entries", len(entries))); err != nil {
			return err
		}
	}
	return nil
}

// pause logs why at level and waits PauseDelay before the job tries
// again. It returns ctx's error once ctx ends, and errStopping once the
// actor is stopping: a job that has to wait for the broker or the DLQ does
// not hold up the stop, its events are left unacked and read again.
func (w *worker) pause(ctx context.Context, level slog.Level, msg string, err error, attrs ...any) error {
	select {
	case <-w.stopping:
		return errStopping
	default:
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	w.log.Log(ctx, level, msg, append(attrs, slog.Any("error", err), slog.Duration("retry_in", w.cfg.PauseDelay))...)
	t := time.NewTimer(w.cfg.PauseDelay)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-w.stopping:
		return errStopping
	case <-t.C:
		return nil
	}
}

func events(items []*item) []*messages.OutboxEvent {
	evs := make([]*messages.OutboxEvent, len(items))
	for i, it := range items {
		evs[i] = it.event()
	}
	return evs
}

func newDeadLetter(ev *messages.OutboxEvent, topic, reason string, attempts int, at time.Time, state messages.DeadLetterState) *messages.DeadLetter {
	ts := timestamppb.New(at)
	return &messages.DeadLetter{
		Event:         ev,
		Topic:         topic,
		Error:         reason,
		Attempts:      int32(attempts),
		FirstFailedAt: ts,
		LastFailedAt:  ts,
		State:         state,
	}
}
