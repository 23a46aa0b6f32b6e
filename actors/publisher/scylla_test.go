package publisher_test

import (
	"strings"
	"testing"

	"github.com/outboxnode/outbox/infra/scylla"
	"github.com/outboxnode/outbox/infra/scylla/scyllatest"
	"github.com/outboxnode/outbox/messages"
)

// startDLQStore returns the real dead_letter_queue store (through gocqlx)
// on a fresh miniscylla with the schema.
func startDLQStore(t *testing.T) *scylla.DLQStore {
	t.Helper()
	_, session, cfg := scyllatest.Start(t)
	return scylla.NewDLQStore(session, cfg.Keyspace)
}

func TestRealStoreParkingSurvivesRestartAndSkipReleasesInOrder(t *testing.T) {
	store, broker := startDLQStore(t), startBroker(t, brokerLimit)
	a, b := order(4, []byte(`{}`)), order(2, []byte(`{}`))
	a[0].Payload = []byte(`"` + strings.Repeat("x", brokerLimit) + `"`)

	first := newKafkaRelay(t, broker, store)
	acks := first.acks(first.publish(a[0], b[0], a[1]))
	wantOutcome(t, acks, a[0], messages.AckOutcome_ACK_OUTCOME_DEAD_LETTERED)
	wantOutcome(t, acks, a[1], messages.AckOutcome_ACK_OUTCOME_PARKED)
	first.stop()

	second := newKafkaRelay(t, broker, store)
	acks = second.acks(second.publish(a[2], b[1]))
	wantOutcome(t, acks, a[2], messages.AckOutcome_ACK_OUTCOME_PARKED)
	wantOutcome(t, acks, b[1], messages.AckOutcome_ACK_OUTCOME_PUBLISHED)
	list := second.request(&messages.DLQList{}).(*messages.DLQListResult)
	if n := len(list.GetLetters()); n != 3 {
		t.Fatalf("DLQ lists %d entries, want 3", n)
	}

	res := second.request(&messages.DLQSkip{EventId: a[0].GetEventId()}).(*messages.DLQResult)
	if res.GetAffected() != 3 {
		t.Fatalf("skip answered %v, want 3 affected", res)
	}
	wantOutcome(t, second.acks(second.publish(a[3])), a[3], messages.AckOutcome_ACK_OUTCOME_PUBLISHED)
	got := second.records("OrderCreated", "OrderUpdated")
	wantVersions(t, got, a[0].GetAggregateId(), 2, 3, 4)
	wantVersions(t, got, b[0].GetAggregateId(), 1, 2)
	second.wantStates(map[string]messages.DeadLetterState{
		a[0].GetEventId(): messages.DeadLetterState_DEAD_LETTER_STATE_SKIPPED,
		a[1].GetEventId(): messages.DeadLetterState_DEAD_LETTER_STATE_REPLAYED,
		a[2].GetEventId(): messages.DeadLetterState_DEAD_LETTER_STATE_REPLAYED,
	})
}
