package publisher_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/outboxnode/outbox/actors/dlq/dlqtest"
	"github.com/outboxnode/outbox/actors/publisher"
	"github.com/outboxnode/outbox/infra/resilience"
	"github.com/outboxnode/outbox/internal/poll"
	"github.com/outboxnode/outbox/messages"
)

func TestPublishesInBatchesInAggregateOrder(t *testing.T) {
	prod := newFakeProducer()
	r := startRelay(t, prod, isTooLarge, dlqtest.NewMemoryStore())
	var evs []*messages.OutboxEvent
	orders := make([][]*messages.OutboxEvent, 50)
	for i := range orders {
		orders[i] = order(3, []byte(`{}`))
	}
	for v := range 3 { // interleaved, as the streams deliver them
		for _, o := range orders {
			evs = append(evs, o[v])
		}
	}
	acks := r.acks(r.publish(evs...))
	for _, ev := range evs {
		wantOutcome(t, acks, ev, messages.AckOutcome_ACK_OUTCOME_PUBLISHED)
	}
	got := prod.versions()
	for _, o := range orders {
		wantVersions(t, got, o[0].GetAggregateId(), 1, 2, 3)
	}
	if prod.maxBatch() < 2 {
		t.Errorf("largest batch %d: events were not batched", prod.maxBatch())
	}
	if processed, dead, lat := r.metrics.snapshot(); processed != len(evs) || dead != 0 || lat != len(evs) {
		t.Errorf("metrics processed=%d dead=%d latencies=%d, want %d, 0, %d", processed, dead, lat, len(evs), len(evs))
	}
	if r.dlqLen() != 0 {
		t.Errorf("DLQ holds %d entries, want none", r.dlqLen())
	}
}

func TestPermanentFailureDeadLettersAndParksUntilSkip(t *testing.T) {
	prod := newFakeProducer()
	r := startRelay(t, prod, isTooLarge, dlqtest.NewMemoryStore())
	a, b := order(3, []byte(`{}`)), order(2, []byte(`{}`))
	prod.setPoison(a[0].GetEventId(), true)

	acks := r.acks(r.publish(a[0], b[0], a[1], b[1]))
	wantOutcome(t, acks, a[0], messages.AckOutcome_ACK_OUTCOME_DEAD_LETTERED)
	wantOutcome(t, acks, a[1], messages.AckOutcome_ACK_OUTCOME_PARKED)
	wantOutcome(t, acks, b[0], messages.AckOutcome_ACK_OUTCOME_PUBLISHED)
	wantOutcome(t, acks, b[1], messages.AckOutcome_ACK_OUTCOME_PUBLISHED)
	if e := acks[a[0].GetEventId()].GetError(); !strings.Contains(e, "too large") {
		t.Errorf("dead letter error %q does not say why", e)
	}
	head, _, _ := r.store.Get(t.Context(), a[0].GetEventId())
	if head.GetState() != messages.DeadLetterState_DEAD_LETTER_STATE_DEAD || head.GetAttempts() != 1 ||
		head.GetTopic() != "OrderCreated" || !strings.Contains(head.GetError(), "too large") ||
		head.GetFirstFailedAt() == nil || head.GetLastFailedAt() == nil {
		t.Errorf("dead head stored as %v", head)
	}
	if st := r.state(a[1].GetEventId()); st != messages.DeadLetterState_DEAD_LETTER_STATE_PARKED {
		t.Errorf("later event of the aggregate is %v, want parked", st)
	}
	wantVersions(t, prod.versions(), a[0].GetAggregateId())
	wantVersions(t, prod.versions(), b[0].GetAggregateId(), 1, 2)

	// Still parked while the head is dead, even across batches.
	wantOutcome(t, r.acks(r.publish(a[2])), a[2], messages.AckOutcome_ACK_OUTCOME_PARKED)

	res, ok := r.request(&messages.DLQSkip{EventId: a[0].GetEventId()}).(*messages.DLQResult)
	if !ok || res.GetAffected() != 3 {
		t.Fatalf("skip answered %v, want 3 affected (skipped head + 2 released)", res)
	}
	wantVersions(t, prod.versions(), a[0].GetAggregateId(), 2, 3)
	r.wantStates(map[string]messages.DeadLetterState{
		a[0].GetEventId(): messages.DeadLetterState_DEAD_LETTER_STATE_SKIPPED,
		a[1].GetEventId(): messages.DeadLetterState_DEAD_LETTER_STATE_REPLAYED,
		a[2].GetEventId(): messages.DeadLetterState_DEAD_LETTER_STATE_REPLAYED,
	})
	// Released: the next event of the aggregate flows again.
	next := order(4, []byte(`{}`))[3]
	next.AggregateId = a[0].GetAggregateId()
	wantOutcome(t, r.acks(r.publish(next)), next, messages.AckOutcome_ACK_OUTCOME_PUBLISHED)
	wantVersions(t, prod.versions(), a[0].GetAggregateId(), 2, 3, 4)
	if _, dead, _ := r.metrics.snapshot(); dead != 3 {
		t.Errorf("dlq_messages counted %d, want 3", dead)
	}
}

func TestReplayPublishesHeadThenParked(t *testing.T) {
	prod := newFakeProducer()
	r := startRelay(t, prod, isTooLarge, dlqtest.NewMemoryStore())
	a := order(2, []byte(`{}`))
	prod.setPoison(a[0].GetEventId(), true)
	r.acks(r.publish(a...))

	// Replay while it still fails: the head stays dead, nothing is released.
	res := r.request(&messages.DLQReplay{EventId: a[0].GetEventId()}).(*messages.DLQResult)
	if res.GetAffected() != 0 || !strings.Contains(res.GetMessage(), "failed again") {
		t.Errorf("failing replay answered %v", res)
	}
	if head, _, _ := r.store.Get(t.Context(), a[0].GetEventId()); head.GetAttempts() != 2 ||
		head.GetState() != messages.DeadLetterState_DEAD_LETTER_STATE_DEAD {
		t.Errorf("after a failed replay the head is %v, want dead with 2 attempts", head)
	}

	prod.setPoison(a[0].GetEventId(), false)
	res = r.request(&messages.DLQReplay{All: true}).(*messages.DLQResult)
	if res.GetAffected() != 2 {
		t.Errorf("replay --all answered %v, want 2 affected", res)
	}
	wantVersions(t, prod.versions(), a[0].GetAggregateId(), 1, 2)
	for _, ev := range a {
		if st := r.state(ev.GetEventId()); st != messages.DeadLetterState_DEAD_LETTER_STATE_REPLAYED {
			t.Errorf("entry v%d is %v, want replayed", ev.GetAggregateVersion(), st)
		}
	}
	if n := r.dlqLen(); n != 2 {
		t.Errorf("store holds %d entries, want 2: entries are never deleted", n)
	}
}

func TestUndecodableRowIsDeadLetteredAndOnlySkipReleasesIt(t *testing.T) {
	prod := newFakeProducer()
	r := startRelay(t, prod, isTooLarge, dlqtest.NewMemoryStore())
	a := order(2, nil)
	bad := &messages.OutboxEvent{EventId: a[0].GetEventId(), AggregateId: a[0].GetAggregateId()}
	r.send(&messages.PublishEvent{Event: bad, DecodeError: "payload: invalid JSON"})
	acks := r.acks([]*messages.OutboxEvent{bad, r.publish(a[1])[0]})
	if ack := acks[bad.GetEventId()]; ack.GetOutcome() != messages.AckOutcome_ACK_OUTCOME_DEAD_LETTERED ||
		!strings.Contains(ack.GetError(), "undecodable row: payload: invalid JSON") {
		t.Errorf("undecodable row acked %v", ack)
	}
	wantOutcome(t, acks, a[1], messages.AckOutcome_ACK_OUTCOME_PARKED)

	res := r.request(&messages.DLQReplay{EventId: bad.GetEventId()}).(*messages.DLQResult)
	if res.GetAffected() != 0 || !strings.Contains(res.GetMessage(), "undecodable") {
		t.Errorf("replay of an undecodable row answered %v", res)
	}
	res = r.request(&messages.DLQSkip{EventId: bad.GetEventId()}).(*messages.DLQResult)
	if res.GetAffected() != 2 {
		t.Errorf("skip answered %v, want 2 affected", res)
	}
	wantVersions(t, prod.versions(), a[0].GetAggregateId(), 2)
}

func TestOutagePausesWithoutDeadLetters(t *testing.T) {
	prod := newFakeProducer()
	r := startRelay(t, prod, isTooLarge, dlqtest.NewMemoryStore())
	prod.setDown(true)
	orders := [][]*messages.OutboxEvent{order(3, nil), order(3, nil)}
	var evs []*messages.OutboxEvent
	for v := range 3 {
		for _, o := range orders {
			evs = append(evs, r.publish(o[v])...)
		}
	}
	poll.Eventually(t, 5*time.Second, poll.True("breaker open", func() bool { return r.breaker.seen(resilience.StateOpen) }))
	// Stay down through a few pauses: still no ack and no dead letter.
	poll.Eventually(t, 5*time.Second, poll.True("retries through the open breaker", func() bool {
		return prod.calls() >= 10
	}))
	if n := r.sink.count(); n != 0 {
		t.Fatalf("%d events acked during the outage", n)
	}
	if r.dlqLen() != 0 {
		t.Fatalf("outage wrote %d dead letters", r.dlqLen())
	}
	prod.setDown(false)
	acks := r.acks(evs)
	for _, o := range orders {
		for _, ev := range o {
			wantOutcome(t, acks, ev, messages.AckOutcome_ACK_OUTCOME_PUBLISHED)
		}
		wantVersions(t, prod.versions(), o[0].GetAggregateId(), 1, 2, 3)
	}
	// Traffic after recovery closes the breaker (3 half-open successes).
	poll.Eventually(t, 5*time.Second, poll.True("breaker closed", func() bool {
		r.acks(r.publish(order(1, nil)...))
		return r.policy.State() == resilience.StateClosed
	}))
	if r.dlqLen() != 0 {
		t.Errorf("outage wrote %d dead letters", r.dlqLen())
	}
}

func TestRejectsBadInput(t *testing.T) {
	r := startRelay(t, newFakeProducer(), isTooLarge, dlqtest.NewMemoryStore())
	res, err := r.sys.Root.RequestFuture(r.pub, &messages.PublishEvent{}, 5*time.Second).Result()
	if rej, ok := res.(*messages.CommandRejected); err != nil || !ok || rej.GetCode() != messages.RejectCode_REJECT_CODE_INVALID_ARGUMENT {
		t.Errorf("event without id answered %v, %v", res, err)
	}
	a := order(2, nil)
	r.acks(r.publish(a[0]))
	tests := []struct {
		name string
		msg  any
		code messages.RejectCode
	}{
		{"skip malformed id", &messages.DLQSkip{EventId: "nope"}, messages.RejectCode_REJECT_CODE_INVALID_ARGUMENT},
		{"replay unknown id", &messages.DLQReplay{EventId: a[1].GetEventId()}, messages.RejectCode_REJECT_CODE_NOT_FOUND},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rej, ok := r.request(tt.msg).(*messages.CommandRejected)
			if !ok || rej.GetCode() != tt.code || rej.GetReason() == "" {
				t.Errorf("answered %v, want %v with a reason", rej, tt.code)
			}
		})
	}
}

func TestPropsValidates(t *testing.T) {
	ok := publisher.Deps{Producer: newFakeProducer(), Policy: &resilience.Policy{}, DeadLetters: nil, IsPermanent: isTooLarge}
	if _, err := publisher.Props(publisher.Config{}, ok); !errors.Is(err, publisher.ErrMissingDependency) {
		t.Errorf("missing dead letters: got %v", err)
	}
	if _, err := publisher.Props(publisher.Config{MaxBatch: -1}, ok); !errors.Is(err, publisher.ErrInvalidConfig) {
		t.Errorf("negative batch: got %v", err)
	}
}

func TestStopDrainsTheBatchInFlight(t *testing.T) {
	prod := newFakeProducer()
	hold := make(chan struct{})
	prod.hold = hold
	r := startRelay(t, prod, isTooLarge, dlqtest.NewMemoryStore())
	evs := r.publish(order(1, nil)...)
	poll.Eventually(t, 5*time.Second, poll.True("batch in flight", func() bool { return prod.calls() > 0 }))
	stopped := r.sys.Root.StopFuture(r.pub)
	close(hold)
	if err := stopped.Wait(); err != nil {
		t.Fatalf("stop: %v", err)
	}
	acks := r.acks(evs)
	for _, ev := range evs {
		wantOutcome(t, acks, ev, messages.AckOutcome_ACK_OUTCOME_PUBLISHED)
	}
}

func TestEventSentAgainIsPublishedOnceAndAckedToEveryRequester(t *testing.T) {
	prod := newFakeProducer()
	hold := make(chan struct{})
	prod.hold = hold
	r := startRelay(t, prod, isTooLarge, dlqtest.NewMemoryStore())
	first, queued := order(1, nil), order(1, nil)
	r.publish(first...)
	poll.Eventually(t, 5*time.Second, poll.True("batch in flight", func() bool { return prod.calls() > 0 }))
	r.publish(first...)  // again while in flight
	r.publish(queued...) // queued behind the batch in flight
	r.publish(queued...) // again while queued
	close(hold)
	r.acks(append(first, queued...))
	poll.Eventually(t, 5*time.Second, poll.True("four acks", func() bool {
		r.sink.mu.Lock()
		defer r.sink.mu.Unlock()
		return r.sink.received == 4
	}))
	got := prod.versions()
	wantVersions(t, got, first[0].GetAggregateId(), 1)
	wantVersions(t, got, queued[0].GetAggregateId(), 1)
	if processed, _, _ := r.metrics.snapshot(); processed != 2 {
		t.Errorf("cdc_events_processed_total counted %d, want 2 (once per event, not per request)", processed)
	}
}
