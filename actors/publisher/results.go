package publisher

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/outboxnode/outbox/messages"
)

// restore rebuilds the parked aggregates from the pending dead letters
// (oldest first), so parking survives restarts. An aggregate with parked
// entries but no dead head (its head was skipped just before a crash) is
// released at once.
func (p *publisher) restore(r loadResult) {
	if r.err != nil {
		return
	}
	p.loaded = true
	first, heads := make(map[string]string), make(map[string]string)
	for _, e := range r.entries {
		agg, id := e.GetEvent().GetAggregateId(), e.GetEvent().GetEventId()
		if agg == "" {
			continue
		}
		if _, ok := first[agg]; !ok {
			first[agg] = id
		}
		if _, ok := heads[agg]; !ok && e.GetState() == messages.DeadLetterState_DEAD_LETTER_STATE_DEAD {
			heads[agg] = id
		}
	}
	for agg, id := range first {
		if head, ok := heads[agg]; ok {
			p.parked[agg] = head
			continue
		}
		p.parked[agg] = id
		p.releases = append(p.releases, releaseJob{aggregateID: agg})
	}
	p.w.log.Info("publisher ready", slog.Int("parked_aggregates", len(p.parked)), slog.Int("releases", len(p.releases)))
}

// batchDone acks every item with an outcome and parks the aggregates of
// the new dead letters.
func (p *publisher) batchDone(ctx actor.Context, r batchResult) {
	now := time.Now()
	m := p.w.deps.Metrics
	for _, it := range r.published {
		p.ack(ctx, it, messages.AckOutcome_ACK_OUTCOME_PUBLISHED, "")
		m.CDCEventProcessed()
		if at := it.event().GetOccurredAt(); at != nil {
			m.Published(at.AsTime(), now)
		}
	}
	for _, o := range r.dead {
		p.ack(ctx, o.item, messages.AckOutcome_ACK_OUTCOME_DEAD_LETTERED, o.reason)
		m.CDCEventProcessed()
		m.DeadLettered()
		agg := o.event().GetAggregateId()
		if _, ok := p.parked[agg]; !ok && agg != "" {
			p.parked[agg] = o.event().GetEventId()
		}
		p.w.log.Warn("event dead-lettered", slog.String("event_id", o.event().GetEventId()),
			slog.String("aggregate_id", agg), slog.String("error", o.reason))
	}
	for _, o := range r.parked {
		p.ack(ctx, o.item, messages.AckOutcome_ACK_OUTCOME_PARKED, o.reason)
		m.CDCEventProcessed()
		m.DeadLettered()
	}
	switch {
	case errors.Is(r.err, errStopping):
		p.w.log.Info("stopping: paused batch left unacked, to be read again", slog.Int("acked", len(r.published)+len(r.dead)+len(r.parked)))
	case r.err != nil && !errors.Is(r.err, context.Canceled):
		p.w.log.Error("batch abandoned", slog.Any("error", r.err))
	}
}

// releaseDone unparks a fully released aggregate, or records its new head.
func (p *publisher) releaseDone(ctx actor.Context, r releaseResult) {
	agg := r.job.aggregateID
	switch {
	case r.failedHead != "":
		p.parked[agg] = r.failedHead
	case r.err == nil:
		delete(p.parked, agg)
	}
	res := &messages.ReleaseResult{Published: int32(r.published), FailedEventId: r.failedHead}
	if r.err != nil {
		res.Error = r.err.Error()
	}
	p.w.log.Info("aggregate released", slog.String("aggregate_id", agg), slog.Int("published", r.published),
		slog.String("failed_event_id", r.failedHead), slog.String("error", res.Error))
	if r.job.sender != nil {
		ctx.Send(r.job.sender, res)
	}
}

// ack answers every requester of it; the event is no longer pending.
func (p *publisher) ack(ctx actor.Context, it *item, o messages.AckOutcome, reason string) {
	delete(p.pending, it.event().GetEventId())
	for _, s := range it.senders {
		if s != nil {
			ctx.Send(s, &messages.EventAck{EventId: it.event().GetEventId(), Outcome: o, Error: reason})
		}
	}
}
