package publisher_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/google/uuid"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/outboxnode/outbox/actors/dlq"
	"github.com/outboxnode/outbox/actors/publisher"
	"github.com/outboxnode/outbox/infra/resilience"
	"github.com/outboxnode/outbox/internal/poll"
	"github.com/outboxnode/outbox/messages"
)

var (
	errTooLarge    = errors.New("record too large")
	errUnavailable = errors.New("leader not available")
)

// fakeProducer is a broker in memory: it records what it acknowledged, in
// order, and fails the event ids in poison (permanently) or everything
// while down.
type fakeProducer struct {
	mu        sync.Mutex
	down      bool
	poison    map[string]bool
	published []*messages.OutboxEvent
	batches   []int
	// hold, when set, blocks Publish until it is closed.
	hold chan struct{}
}

func newFakeProducer() *fakeProducer { return &fakeProducer{poison: make(map[string]bool)} }

func (f *fakeProducer) Publish(_ context.Context, evs []*messages.OutboxEvent) []error {
	f.mu.Lock()
	hold := f.hold
	f.batches = append(f.batches, len(evs))
	f.mu.Unlock()
	if hold != nil {
		<-hold
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	errs := make([]error, len(evs))
	for i, ev := range evs {
		switch {
		case f.down:
			errs[i] = errUnavailable
		case f.poison[ev.GetEventId()]:
			errs[i] = errTooLarge
		default:
			f.published = append(f.published, ev)
		}
	}
	return errs
}

func (f *fakeProducer) Topic(ev *messages.OutboxEvent) string { return ev.GetEventType() }

func (f *fakeProducer) setDown(down bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.down = down
}

func (f *fakeProducer) setPoison(id string, poison bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.poison[id] = poison
}

// versions returns the published versions of each aggregate, in order.
func (f *fakeProducer) versions() map[string][]int32 {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make(map[string][]int32)
	for _, ev := range f.published {
		out[ev.GetAggregateId()] = append(out[ev.GetAggregateId()], ev.GetAggregateVersion())
	}
	return out
}

func (f *fakeProducer) maxBatch() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.batches) == 0 {
		return 0
	}
	return slices.Max(f.batches)
}

// breakerStates records every breaker state change.
type breakerStates struct {
	mu     sync.Mutex
	states []resilience.State
}

func (b *breakerStates) OnRetry(string) {}
func (b *breakerStates) OnStateChange(s resilience.State) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.states = append(b.states, s)
}

func (b *breakerStates) seen(s resilience.State) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, x := range b.states {
		if x == s {
			return true
		}
	}
	return false
}

// countingMetrics is a publisher.Metrics that counts.
type countingMetrics struct {
	mu                         sync.Mutex
	processed, dead, latencies int
}

func (m *countingMetrics) CDCEventProcessed() { m.mu.Lock(); m.processed++; m.mu.Unlock() }
func (m *countingMetrics) DeadLettered()      { m.mu.Lock(); m.dead++; m.mu.Unlock() }
func (m *countingMetrics) Published(_, _ time.Time) {
	m.mu.Lock()
	m.latencies++
	m.mu.Unlock()
}

func (m *countingMetrics) snapshot() (processed, dead, latencies int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.processed, m.dead, m.latencies
}

// relay is a publisher and a DLQ actor over a store, in one actor system.
type relay struct {
	t        testing.TB
	sys      *actor.ActorSystem
	pub, dlq *actor.PID
	store    dlq.Store
	sink     *ackSink
	sinkPID  *actor.PID
	breaker  *breakerStates
	policy   *resilience.Policy
	metrics  *countingMetrics
	stopOnce sync.Once
}

// relayOption adjusts startRelay's settings.
type relayOption func(*relaySettings)

type relaySettings struct {
	publisher  publisher.Config
	resilience resilience.Config
	metrics    interface {
		publisher.Metrics
		resilience.Listener
	}
}

// withMetrics sends the publisher's and the policy's measurements to m.
func withMetrics(m interface {
	publisher.Metrics
	resilience.Listener
}) relayOption {
	return func(s *relaySettings) { s.metrics = m }
}

// quietSystem returns an actor system that logs nothing.
func quietSystem() *actor.ActorSystem {
	return actor.NewActorSystem(actor.WithLoggerFactory(func(*actor.ActorSystem) *slog.Logger {
		return slog.New(slog.DiscardHandler)
	}))
}

// withPublisher replaces the publisher's settings.
func withPublisher(c publisher.Config) relayOption {
	return func(s *relaySettings) { s.publisher = c }
}

func startRelay(t testing.TB, producer publisher.Producer, isPermanent func(error) bool, store dlq.Store, opts ...relayOption) *relay {
	t.Helper()
	sys := quietSystem()
	r := &relay{t: t, sys: sys, store: store, breaker: &breakerStates{}, metrics: &countingMetrics{}}
	s := relaySettings{
		publisher:  publisher.Config{PauseDelay: 20 * time.Millisecond, Linger: time.Millisecond},
		resilience: resilience.Config{BackoffMin: time.Millisecond, BackoffMax: 5 * time.Millisecond, OpenDelay: 100 * time.Millisecond},
	}
	for _, o := range opts {
		o(&s)
	}
	var listener resilience.Listener = r.breaker
	var m publisher.Metrics = r.metrics
	if s.metrics != nil {
		listener, m = s.metrics, s.metrics
	}
	policy, err := resilience.New(s.resilience, resilience.WithPermanent(isPermanent), resilience.WithListener(listener))
	if err != nil {
		t.Fatal(err)
	}
	r.policy = policy
	r.sink = &ackSink{acks: make(map[string]*messages.EventAck)}
	r.sinkPID = sys.Root.Spawn(actor.PropsFromProducer(func() actor.Actor { return r.sink }))
	dlqProps, err := dlq.Props(dlq.Config{ReleaseTimeout: 5 * time.Second}, store, actor.NewPID(sys.Address(), "publisher"))
	if err != nil {
		t.Fatal(err)
	}
	if r.dlq, err = sys.Root.SpawnNamed(dlqProps, "dlq"); err != nil {
		t.Fatal(err)
	}
	pubProps, err := publisher.Props(s.publisher, publisher.Deps{
		Producer:    producer,
		Policy:      policy,
		DeadLetters: dlq.NewClient(sys.Root, r.dlq, 5*time.Second),
		IsPermanent: isPermanent,
		Metrics:     m,
	})
	if err != nil {
		t.Fatal(err)
	}
	if r.pub, err = sys.Root.SpawnNamed(pubProps, "publisher"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.stop)
	return r
}

// stop stops the actors and the system; it is idempotent.
func (r *relay) stop() {
	r.stopOnce.Do(func() {
		_ = r.sys.Root.StopFuture(r.pub).Wait()
		_ = r.sys.Root.StopFuture(r.dlq).Wait()
		r.sys.Shutdown()
	})
}

// state returns the stored state of eventID's dead letter, UNSPECIFIED
// when there is none.
func (r *relay) state(eventID string) messages.DeadLetterState {
	r.t.Helper()
	e, _, err := r.store.Get(context.Background(), eventID)
	if err != nil {
		r.t.Fatalf("get dead letter: %v", err)
	}
	return e.GetState()
}

// wantStates checks the stored state of each dead letter.
func (r *relay) wantStates(want map[string]messages.DeadLetterState) {
	r.t.Helper()
	for id, st := range want {
		if got := r.state(id); got != st {
			r.t.Errorf("entry %s is %v, want %v", id, got, st)
		}
	}
}

// dlqLen returns the number of stored dead letters.
func (r *relay) dlqLen() int {
	r.t.Helper()
	all, err := r.store.List(context.Background())
	if err != nil {
		r.t.Fatalf("list dead letters: %v", err)
	}
	return len(all)
}

// ackSink is the stream's stand-in: an actor that collects acks.
type ackSink struct {
	mu       sync.Mutex
	acks     map[string]*messages.EventAck
	received int
}

func (s *ackSink) Receive(ctx actor.Context) {
	if ack, ok := ctx.Message().(*messages.EventAck); ok {
		s.mu.Lock()
		s.acks[ack.GetEventId()] = ack
		s.received++
		s.mu.Unlock()
	}
}

func (s *ackSink) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.acks)
}

// publish sends one PublishEvent per event, acks going to the sink.
func (r *relay) publish(evs ...*messages.OutboxEvent) []*messages.OutboxEvent {
	for _, ev := range evs {
		r.send(&messages.PublishEvent{Event: ev})
	}
	return evs
}

func (r *relay) send(req *messages.PublishEvent) {
	r.sys.Root.RequestWithCustomSender(r.pub, req, r.sinkPID)
}

// acks waits for the ack of every event and returns them by event id.
func (r *relay) acks(evs []*messages.OutboxEvent) map[string]*messages.EventAck {
	r.t.Helper()
	out := make(map[string]*messages.EventAck, len(evs))
	poll.Eventually(r.t, 20*time.Second, poll.True("acks", func() bool {
		r.sink.mu.Lock()
		defer r.sink.mu.Unlock()
		for len(out) < len(evs) {
			id := evs[len(out)].GetEventId()
			ack, ok := r.sink.acks[id]
			if !ok {
				return false
			}
			out[id] = ack
		}
		return true
	}))
	return out
}

// request sends msg to the DLQ actor and returns the answer.
func (r *relay) request(msg any) any {
	r.t.Helper()
	res, err := r.sys.Root.RequestFuture(r.dlq, msg, 10*time.Second).Result()
	if err != nil {
		r.t.Fatalf("request %T: %v", msg, err)
	}
	return res
}

// order creates the events of one aggregate, versions 1..n, in time order.
func order(n int, payload []byte) []*messages.OutboxEvent {
	agg := uuid.NewString()
	evs := make([]*messages.OutboxEvent, n)
	for i := range evs {
		id, err := uuid.NewUUID()
		if err != nil {
			panic(err)
		}
		typ := "OrderUpdated"
		if i == 0 {
			typ = "OrderCreated"
		}
		evs[i] = &messages.OutboxEvent{
			EventId: id.String(), AggregateType: "order", AggregateId: agg, AggregateVersion: int32(i + 1),
			EventType: typ, Payload: payload, OccurredAt: timestamppb.Now(),
		}
	}
	return evs
}

func isTooLarge(err error) bool { return errors.Is(err, errTooLarge) }

func wantOutcome(t testing.TB, acks map[string]*messages.EventAck, ev *messages.OutboxEvent, want messages.AckOutcome) {
	t.Helper()
	if got := acks[ev.GetEventId()].GetOutcome(); got != want {
		t.Errorf("event v%d of %s: outcome %v, want %v (%s)", ev.GetAggregateVersion(), ev.GetAggregateId(), got, want, acks[ev.GetEventId()].GetError())
	}
}

func wantVersions(t testing.TB, got map[string][]int32, agg string, want ...int32) {
	t.Helper()
	if fmt.Sprint(got[agg]) != fmt.Sprint(want) {
		t.Errorf("aggregate %s published versions %v, want %v", agg, got[agg], want)
	}
}

// calls counts Publish calls.
func (f *fakeProducer) calls() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.batches)
}
