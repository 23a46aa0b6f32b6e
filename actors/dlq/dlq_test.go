package dlq_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/google/uuid"

	"github.com/outboxnode/outbox/actors/dlq"
	"github.com/outboxnode/outbox/actors/dlq/dlqtest"
	"github.com/outboxnode/outbox/messages"
)

// fakePublisher answers ReleaseAggregate with a fixed result and records
// the aggregates it was asked to release.
type fakePublisher struct {
	mu       sync.Mutex
	released []string
	result   *messages.ReleaseResult
}

func (f *fakePublisher) Receive(ctx actor.Context) {
	if m, ok := ctx.Message().(*messages.ReleaseAggregate); ok {
		f.mu.Lock()
		f.released = append(f.released, m.GetAggregateId())
		f.mu.Unlock()
		ctx.Respond(f.result)
	}
}

func (f *fakePublisher) aggregates() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.released...)
}

func start(t *testing.T, store dlq.Store, pub *fakePublisher) (*actor.ActorSystem, *actor.PID) {
	t.Helper()
	sys := actor.NewActorSystem(actor.WithLoggerFactory(func(*actor.ActorSystem) *slog.Logger {
		return slog.New(slog.NewTextHandler(io.Discard, nil))
	}))
	t.Cleanup(sys.Shutdown)
	pubPID := sys.Root.Spawn(actor.PropsFromProducer(func() actor.Actor { return pub }))
	props, err := dlq.Props(dlq.Config{}, store, pubPID)
	if err != nil {
		t.Fatal(err)
	}
	return sys, sys.Root.Spawn(props)
}

func ask(t *testing.T, sys *actor.ActorSystem, pid *actor.PID, msg any) any {
	t.Helper()
	res, err := sys.Root.RequestFuture(pid, msg, 5*time.Second).Result()
	if err != nil {
		t.Fatalf("request %T: %v", msg, err)
	}
	return res
}

// entries returns dead letters of one aggregate, oldest first, in states.
func entries(states ...messages.DeadLetterState) []*messages.DeadLetter {
	agg := uuid.NewString()
	out := make([]*messages.DeadLetter, len(states))
	for i, s := range states {
		out[i] = &messages.DeadLetter{
			Event: &messages.OutboxEvent{EventId: uuid.Must(uuid.NewUUID()).String(), AggregateId: agg, AggregateVersion: int32(i + 1)},
			State: s,
		}
	}
	return out
}

const (
	dead     = messages.DeadLetterState_DEAD_LETTER_STATE_DEAD
	parked   = messages.DeadLetterState_DEAD_LETTER_STATE_PARKED
	replayed = messages.DeadLetterState_DEAD_LETTER_STATE_REPLAYED
	skipped  = messages.DeadLetterState_DEAD_LETTER_STATE_SKIPPED
)

func TestListIsOldestFirst(t *testing.T) {
	a, b := entries(dead, parked), entries(replayed) // b's events come after a's
	sys, pid := start(t, dlqtest.NewMemoryStore(b[0], a[1], a[0]), &fakePublisher{})
	res := ask(t, sys, pid, &messages.DLQList{}).(*messages.DLQListResult)
	var got []string
	for _, e := range res.GetLetters() {
		got = append(got, e.GetEvent().GetEventId())
	}
	want := []string{a[0].GetEvent().GetEventId(), a[1].GetEvent().GetEventId(), b[0].GetEvent().GetEventId()}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("listed %v, want %v", got, want)
	}
}

func TestSkipMarksAndReleases(t *testing.T) {
	a := entries(dead, parked)
	store := dlqtest.NewMemoryStore(a...)
	pub := &fakePublisher{result: &messages.ReleaseResult{Published: 1}}
	sys, pid := start(t, store, pub)
	res, ok := ask(t, sys, pid, &messages.DLQSkip{EventId: a[0].GetEvent().GetEventId()}).(*messages.DLQResult)
	if !ok || res.GetAffected() != 2 || !strings.Contains(res.GetMessage(), "1 event(s) published") {
		t.Errorf("skip answered %v", res)
	}
	if st := store.State(a[0].GetEvent().GetEventId()); st != skipped {
		t.Errorf("head is %v, want skipped", st)
	}
	if got := pub.aggregates(); len(got) != 1 || got[0] != a[0].GetEvent().GetAggregateId() {
		t.Errorf("released %v, want the head's aggregate", got)
	}
}

func TestReplayAllReleasesEachBlockedAggregateOnce(t *testing.T) {
	a, b, c := entries(dead, parked, parked), entries(replayed, dead), entries(skipped)
	store := dlqtest.NewMemoryStore(append(append(a, b...), c...)...)
	pub := &fakePublisher{result: &messages.ReleaseResult{Published: 2}}
	sys, pid := start(t, store, pub)
	res := ask(t, sys, pid, &messages.DLQReplay{All: true}).(*messages.DLQResult)
	if res.GetAffected() != 4 || res.GetFailed() != 0 {
		t.Errorf("replay --all answered %v, want 4 affected, none failed", res)
	}
	got := pub.aggregates()
	if len(got) != 2 || got[0] != a[0].GetEvent().GetAggregateId() || got[1] != b[0].GetEvent().GetAggregateId() {
		t.Errorf("released %v, want a then b", got)
	}
}

// A replay whose events fail again counts each aggregate that is still
// blocked in failed, so that outboxctl can exit non-zero.
func TestReplayCountsFailedAgain(t *testing.T) {
	a, b := entries(dead, parked), entries(dead)
	store := dlqtest.NewMemoryStore(append(a, b...)...)
	pub := &fakePublisher{result: &messages.ReleaseResult{Published: 1, FailedEventId: "e", Error: "broker says no"}}
	sys, pid := start(t, store, pub)
	res := ask(t, sys, pid, &messages.DLQReplay{All: true}).(*messages.DLQResult)
	if res.GetAffected() != 2 || res.GetFailed() != 2 || !strings.Contains(res.GetMessage(), "failed again: broker says no") {
		t.Errorf("replay --all answered %v, want 2 affected, 2 failed", res)
	}
	one := ask(t, sys, pid, &messages.DLQReplay{EventId: b[0].GetEvent().GetEventId()}).(*messages.DLQResult)
	if one.GetFailed() != 1 {
		t.Errorf("replay of one answered %v, want 1 failed", one)
	}
}

func TestPendingFiltersAndOrders(t *testing.T) {
	a, b := entries(replayed, dead, parked), entries(dead)
	store := dlqtest.NewMemoryStore(a[2], b[0], a[0], a[1])
	sys, pid := start(t, store, &fakePublisher{})
	res := ask(t, sys, pid, &messages.DLQPending{AggregateId: a[0].GetEvent().GetAggregateId()}).(*messages.DLQPendingResult)
	if len(res.GetEntries()) != 2 || res.GetEntries()[0].GetState() != dead || res.GetEntries()[1].GetState() != parked {
		t.Errorf("pending of a = %v, want its dead v2 then parked v3", res.GetEntries())
	}
	all := ask(t, sys, pid, &messages.DLQPending{}).(*messages.DLQPendingResult)
	if len(all.GetEntries()) != 3 {
		t.Errorf("pending of all = %d entries, want 3", len(all.GetEntries()))
	}
}

func TestRejections(t *testing.T) {
	a := entries(dead, parked)
	done := entries(replayed)
	store := dlqtest.NewMemoryStore(append(a, done...)...)
	sys, pid := start(t, store, &fakePublisher{result: &messages.ReleaseResult{}})
	tests := []struct {
		name string
		msg  any
		code messages.RejectCode
		says string
	}{
		{"malformed id", &messages.DLQSkip{EventId: "x"}, messages.RejectCode_REJECT_CODE_INVALID_ARGUMENT, "must be a timeuuid"},
		{"empty id", &messages.DLQReplay{}, messages.RejectCode_REJECT_CODE_INVALID_ARGUMENT, "must be a timeuuid"},
		{"random uuid on skip", &messages.DLQSkip{EventId: uuid.NewString()}, messages.RejectCode_REJECT_CODE_INVALID_ARGUMENT, "must be a timeuuid"},
		{"random uuid on replay", &messages.DLQReplay{EventId: uuid.NewString()}, messages.RejectCode_REJECT_CODE_INVALID_ARGUMENT, "must be a timeuuid"},
		{"unknown timeuuid", &messages.DLQReplay{EventId: uuid.Must(uuid.NewUUID()).String()}, messages.RejectCode_REJECT_CODE_NOT_FOUND, "no dead letter"},
		{"parked entry", &messages.DLQReplay{EventId: a[1].GetEvent().GetEventId()}, messages.RejectCode_REJECT_CODE_INVALID_TRANSITION, "parked behind"},
		{"parked entry, urn form", &messages.DLQSkip{EventId: "urn:uuid:" + strings.ToUpper(a[1].GetEvent().GetEventId())}, messages.RejectCode_REJECT_CODE_INVALID_TRANSITION, "parked behind"},
		{"resolved entry", &messages.DLQSkip{EventId: done[0].GetEvent().GetEventId()}, messages.RejectCode_REJECT_CODE_INVALID_TRANSITION, "already replayed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rej, ok := ask(t, sys, pid, tt.msg).(*messages.CommandRejected)
			if !ok || rej.GetCode() != tt.code || !strings.Contains(rej.GetReason(), tt.says) {
				t.Errorf("answered %v, want %v saying %q", rej, tt.code, tt.says)
			}
		})
	}
	store.SetError(errors.New("connection refused"))
	t.Run("store down", func(t *testing.T) {
		rej, ok := ask(t, sys, pid, &messages.DLQList{}).(*messages.CommandRejected)
		if !ok || rej.GetCode() != messages.RejectCode_REJECT_CODE_STORE_UNAVAILABLE {
			t.Errorf("list answered %v, want STORE_UNAVAILABLE", rej)
		}
		stored := ask(t, sys, pid, &messages.DLQStore{Entries: a}).(*messages.DLQStored)
		if !strings.Contains(stored.GetError(), "connection refused") {
			t.Errorf("store answered %v, want the store's error", stored)
		}
	})
}

func TestPropsValidates(t *testing.T) {
	if _, err := dlq.Props(dlq.Config{}, nil, actor.NewPID("nonhost", "p")); !errors.Is(err, dlq.ErrInvalidConfig) {
		t.Errorf("nil store: got %v", err)
	}
	if _, err := dlq.Props(dlq.Config{StoreTimeout: -1}, dlqtest.NewMemoryStore(), actor.NewPID("nonhost", "p")); !errors.Is(err, dlq.ErrInvalidConfig) {
		t.Errorf("negative timeout: got %v", err)
	}
}

// silent takes requests and never answers, like an actor that is stopping.
type silent struct{ asked chan struct{} }

func (s silent) Receive(ctx actor.Context) {
	if _, ok := ctx.Message().(*messages.DLQPending); ok {
		close(s.asked)
	}
}

// TestClientReturnsWhenContextEnds asks an actor that never answers with a
// client timeout of an hour: cancelling the context ends the call.
func TestClientReturnsWhenContextEnds(t *testing.T) {
	sys := actor.NewActorSystem(actor.WithLoggerFactory(func(*actor.ActorSystem) *slog.Logger {
		return slog.New(slog.DiscardHandler)
	}))
	t.Cleanup(sys.Shutdown)
	s := silent{asked: make(chan struct{})}
	c := dlq.NewClient(sys.Root, sys.Root.Spawn(actor.PropsFromProducer(func() actor.Actor { return s })), time.Hour)
	ctx, cancel := context.WithCancel(t.Context())
	errc := make(chan error, 1)
	go func() {
		_, err := c.Pending(ctx, "")
		errc <- err
	}()
	select {
	case <-s.asked:
	case <-time.After(5 * time.Second):
		t.Fatal("the request never reached the actor")
	}
	cancel()
	select {
	case err := <-errc:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("Pending returned %v, want context.Canceled", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Pending still waits after its context ended")
	}
}
