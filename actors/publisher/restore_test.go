package publisher_test

import (
	"testing"

	"github.com/outboxnode/outbox/actors/dlq/dlqtest"
	"github.com/outboxnode/outbox/messages"
)

func stored(ev *messages.OutboxEvent, state messages.DeadLetterState) *messages.DeadLetter {
	return &messages.DeadLetter{Event: ev, Error: "earlier failure", Attempts: 1, State: state}
}

func TestParkingSurvivesRestart(t *testing.T) {
	a, b, c := order(3, nil), order(3, nil), order(2, nil)
	store := dlqtest.NewMemoryStore(
		// a: dead head v1 with v2 parked behind it.
		stored(a[0], messages.DeadLetterState_DEAD_LETTER_STATE_DEAD),
		stored(a[1], messages.DeadLetterState_DEAD_LETTER_STATE_PARKED),
		// b: head skipped just before a crash, v2 still parked: released at start.
		stored(b[0], messages.DeadLetterState_DEAD_LETTER_STATE_SKIPPED),
		stored(b[1], messages.DeadLetterState_DEAD_LETTER_STATE_PARKED),
		// c: resolved long ago.
		stored(c[0], messages.DeadLetterState_DEAD_LETTER_STATE_REPLAYED),
	)
	prod := newFakeProducer()
	r := startRelay(t, prod, isTooLarge, store)

	acks := r.acks(r.publish(a[2], b[2], c[1]))
	wantOutcome(t, acks, a[2], messages.AckOutcome_ACK_OUTCOME_PARKED)
	wantOutcome(t, acks, b[2], messages.AckOutcome_ACK_OUTCOME_PUBLISHED)
	wantOutcome(t, acks, c[1], messages.AckOutcome_ACK_OUTCOME_PUBLISHED)
	got := prod.versions()
	wantVersions(t, got, a[0].GetAggregateId())
	wantVersions(t, got, b[0].GetAggregateId(), 2, 3)
	wantVersions(t, got, c[0].GetAggregateId(), 2)
	if st := store.State(b[1].GetEventId()); st != messages.DeadLetterState_DEAD_LETTER_STATE_REPLAYED {
		t.Errorf("orphan parked entry is %v, want replayed", st)
	}
}
