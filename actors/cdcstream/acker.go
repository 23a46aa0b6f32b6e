package cdcstream

import (
	"log/slog"
	"sync"

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
// It holds the deliveries not yet acknowledged; the source's in-flight
// window bounds them.
type acker struct {
	log *slog.Logger

	mu   sync.Mutex
	byID map[string][]*Delivery
}

var _ actor.Process = (*acker)(nil)

func newAcker(log *slog.Logger) *acker {
	return &acker{log: log, byID: make(map[string][]*Delivery)}
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

func (a *acker) add(d *Delivery) {
	a.mu.Lock()
	defer a.mu.Unlock()
	id := d.Request.GetEvent().GetEventId()
	a.byID[id] = append(a.byID[id], d)
}

// ack acknowledges every delivery of the event; an unknown ack does nothing.
func (a *acker) ack(eventID string) {
	a.mu.Lock()
	ds := a.byID[eventID]
	delete(a.byID, eventID)
	a.mu.Unlock()
	for _, d := range ds {
		d.Ack()
	}
}

func (a *acker) len() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.byID)
}
