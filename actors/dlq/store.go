package dlq

import (
	"cmp"
	"context"
	"slices"

	"github.com/google/uuid"

	"github.com/outboxnode/outbox/messages"
)

// Store keeps dead letters keyed by event id (infra/scylla.DLQStore).
type Store interface {
	// Put inserts or replaces entries.
	Put(ctx context.Context, entries []*messages.DeadLetter) error
	// Get returns the entry of eventID; false when there is none.
	Get(ctx context.Context, eventID string) (*messages.DeadLetter, bool, error)
	// List returns every entry, in any order.
	List(ctx context.Context) ([]*messages.DeadLetter, error)
}

// SortOldestFirst orders entries as their events were written: by the time
// in the event id (a timeuuid), then aggregate version. That is aggregate
// order, which releases follow.
func SortOldestFirst(entries []*messages.DeadLetter) {
	slices.SortStableFunc(entries, func(a, b *messages.DeadLetter) int {
		return cmp.Or(
			cmp.Compare(eventTime(a), eventTime(b)),
			cmp.Compare(a.GetEvent().GetAggregateVersion(), b.GetEvent().GetAggregateVersion()),
			cmp.Compare(a.GetEvent().GetEventId(), b.GetEvent().GetEventId()),
		)
	})
}

func eventTime(e *messages.DeadLetter) uuid.Time {
	id, err := uuid.Parse(e.GetEvent().GetEventId())
	if err != nil || id.Version() != 1 {
		return 0
	}
	return id.Time()
}

// pending keeps the entries that still block their aggregate (dead or
// parked), of aggregateID or of every aggregate when it is empty.
func pending(entries []*messages.DeadLetter, aggregateID string) []*messages.DeadLetter {
	var out []*messages.DeadLetter
	for _, e := range entries {
		if aggregateID != "" && e.GetEvent().GetAggregateId() != aggregateID {
			continue
		}
		switch e.GetState() {
		case messages.DeadLetterState_DEAD_LETTER_STATE_DEAD, messages.DeadLetterState_DEAD_LETTER_STATE_PARKED:
			out = append(out, e)
		}
	}
	SortOldestFirst(out)
	return out
}
