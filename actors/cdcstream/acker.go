package cdcstream

import (
	"log/slog"
	"sync"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/outboxnode/outbox/messages"
)

// acker is the sender of the stream's publish requests: a protoactor
// Process (like a future, but for many requests) that receives the
// publisher's EventAcks on the publisher's goroutine and acknowledges the
// deliveries to the source. Acks thus bypass the stream's mailbox, which
// stops running as soon as the publisher terminates (system messages come
// first): the acks of the batch the publisher drains while stopping still
// reach the source before the final progress save.
//
// It holds the deliveries not yet acknowledged, in delivery order (re-sends
// keep per-aggregate order); the source's in-flight window bounds them.
type acker struct {
	log *slog.Logger

	mu    sync.Mutex
	order []*inflight
	byID  map[string][]*inflight
}

type inflight struct {
	d      *Delivery
	sentAt time.Time
	acked  bool
}

var _ actor.Process = (*acker)(nil)

func newAcker(log *slog.Logger) *acker {
	return &acker{log: log, byID: make(map[string][]*inflight)}
}

// SendUserMessage implements actor.Process: the publisher's replies.
func (a *acker) SendUserMessage(_ *actor.PID, message any) {
	switch m := actor.UnwrapEnvelopeMessage(message).(type) {
	case *messages.EventAck:
		a.ack(m.GetEventId())
	case *messages.CommandRejected:
		a.log.Error("publisher rejected an event", slog.String("reason", m.GetReason()))
	}
}

// SendSystemMessage implements actor.Process; nothing watches the acker.
func (a *acker) SendSystemMessage(*actor.PID, any) {}

// Stop implements actor.Process; the stream removes the acker itself.
func (a *acker) Stop(*actor.PID) {}

func (a *acker) add(d *Delivery, now time.Time) {
	a.mu.Lock()
	defer a.mu.Unlock()
	in := &inflight{d: d, sentAt: now}
	a.order = append(a.order, in)
	id := d.Request.GetEvent().GetEventId()
	a.byID[id] = append(a.byID[id], in)
}

// ack acknowledges every delivery of the event; repeated or unknown acks
// (after a re-send, or from before a restart) do nothing.
func (a *acker) ack(eventID string) {
	a.mu.Lock()
	ins := a.byID[eventID]
	delete(a.byID, eventID)
	for _, in := range ins {
		in.acked = true
	}
	a.mu.Unlock()
	for _, in := range ins {
		in.d.Ack()
	}
}

// stale drops acknowledged entries and returns, oldest first, the
// deliveries sent at least after ago, marking them sent now.
func (a *acker) stale(now time.Time, after time.Duration) []*Delivery {
	a.mu.Lock()
	defer a.mu.Unlock()
	var out []*Delivery
	kept := a.order[:0]
	for _, in := range a.order {
		if in.acked {
			continue
		}
		kept = append(kept, in)
		if now.Sub(in.sentAt) >= after {
			in.sentAt = now
			out = append(out, in.d)
		}
	}
	clear(a.order[len(kept):])
	a.order = kept
	return out
}

func (a *acker) len() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.byID)
}
