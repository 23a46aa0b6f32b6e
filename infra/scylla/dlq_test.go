package scylla_test

import (
	"errors"
	"testing"
	"time"

	"github.com/google/uuid"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/outboxnode/outbox/infra/scylla"
	"github.com/outboxnode/outbox/infra/scylla/scyllatest"
	"github.com/outboxnode/outbox/messages"
)

// startDLQStore returns a DLQStore on a fresh miniscylla with the schema.
func startDLQStore(t *testing.T) *scylla.DLQStore {
	t.Helper()
	_, session, cfg := scyllatest.Start(t)
	return scylla.NewDLQStore(session, cfg.Keyspace)
}

func deadLetter(state messages.DeadLetterState) *messages.DeadLetter {
	id, _ := uuid.NewUUID()
	at := timestamppb.New(time.Now().Truncate(time.Millisecond))
	return &messages.DeadLetter{
		Event: &messages.OutboxEvent{
			EventId: id.String(), AggregateType: "order", AggregateId: uuid.NewString(), AggregateVersion: 2,
			EventType: "OrderUpdated", Payload: []byte(`{"total_cents":1250}`), Headers: map[string]string{"trace": "t1"},
			OccurredAt: at,
		},
		Topic: "OrderUpdated", Error: "message too large", Attempts: 1, FirstFailedAt: at, LastFailedAt: at, State: state,
	}
}

func TestDLQStoreRoundTrip(t *testing.T) {
	s := startDLQStore(t)
	ctx := t.Context()
	dead, parked := deadLetter(messages.DeadLetterState_DEAD_LETTER_STATE_DEAD), deadLetter(messages.DeadLetterState_DEAD_LETTER_STATE_PARKED)
	undecodable := &messages.DeadLetter{
		Event: &messages.OutboxEvent{EventId: uuid.Must(uuid.NewUUID()).String()},
		Error: "undecodable row: payload", State: messages.DeadLetterState_DEAD_LETTER_STATE_DEAD,
	}
	if err := s.Put(ctx, []*messages.DeadLetter{dead, parked, undecodable}); err != nil {
		t.Fatalf("put: %v", err)
	}
	for _, want := range []*messages.DeadLetter{dead, parked, undecodable} {
		got, ok, err := s.Get(ctx, want.GetEvent().GetEventId())
		if err != nil || !ok || !proto.Equal(got, want) {
			t.Errorf("get %s = %v, %v, %v; want %v", want.GetEvent().GetEventId(), got, ok, err, want)
		}
	}
	// Updating the state keeps the row (entries are never deleted).
	dead.State, dead.Attempts = messages.DeadLetterState_DEAD_LETTER_STATE_SKIPPED, 2
	if err := s.Put(ctx, []*messages.DeadLetter{dead}); err != nil {
		t.Fatalf("update: %v", err)
	}
	all, err := s.List(ctx)
	if err != nil || len(all) != 3 {
		t.Fatalf("list = %d entries, %v; want 3", len(all), err)
	}
	for _, e := range all {
		if e.GetEvent().GetEventId() == dead.GetEvent().GetEventId() && !proto.Equal(e, dead) {
			t.Errorf("listed %v, want %v", e, dead)
		}
	}
	if _, ok, err := s.Get(ctx, uuid.Must(uuid.NewUUID()).String()); ok || err != nil {
		t.Errorf("get of an unknown id: found=%v err=%v", ok, err)
	}
}

func TestDLQStoreRejectsBadEntries(t *testing.T) {
	s := startDLQStore(t)
	bad := deadLetter(messages.DeadLetterState_DEAD_LETTER_STATE_DEAD)
	bad.Event.EventId = "not-a-uuid"
	random := deadLetter(messages.DeadLetterState_DEAD_LETTER_STATE_DEAD)
	random.Event.EventId = uuid.NewString()
	noState := deadLetter(messages.DeadLetterState_DEAD_LETTER_STATE_UNSPECIFIED)
	for _, e := range []*messages.DeadLetter{bad, random, noState} {
		var be *scylla.BadEventError
		if err := s.Put(t.Context(), []*messages.DeadLetter{e}); !errors.As(err, &be) {
			t.Errorf("put %v: got %v, want a BadEventError", e, err)
		}
	}
	// A server refuses a non-time uuid for a timeuuid key as a bad query;
	// the store says so before asking.
	for _, id := range []string{"nope", uuid.NewString()} {
		var be *scylla.BadEventError
		if _, _, err := s.Get(t.Context(), id); !errors.As(err, &be) || be.Field != "event_id" {
			t.Errorf("get of %q: got %v, want a BadEventError on event_id", id, err)
		}
	}
}
