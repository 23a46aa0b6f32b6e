package publisher_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/outboxnode/outbox/actors/dlq"
	"github.com/outboxnode/outbox/actors/dlq/dlqtest"
	"github.com/outboxnode/outbox/actors/publisher"
	"github.com/outboxnode/outbox/infra/resilience"
	"github.com/outboxnode/outbox/internal/poll"
	"github.com/outboxnode/outbox/messages"
)

// watchedDeadLetters passes calls on to the DLQ client and records when
// Pending is first called and what each call returned.
type watchedDeadLetters struct {
	publisher.DeadLetters
	once  sync.Once
	asked chan struct{}
	mu    sync.Mutex
	errs  []error
}

func (w *watchedDeadLetters) Pending(ctx context.Context, aggregateID string) ([]*messages.DeadLetter, error) {
	w.once.Do(func() { close(w.asked) })
	entries, err := w.DeadLetters.Pending(ctx, aggregateID)
	w.mu.Lock()
	w.errs = append(w.errs, err)
	w.mu.Unlock()
	return entries, err
}

// returned reports whether a call returned one of targets.
func (w *watchedDeadLetters) returned(targets ...error) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, err := range w.errs {
		for _, target := range targets {
			if errors.Is(err, target) {
				return true
			}
		}
	}
	return false
}

// silent is a DLQ actor that takes requests and never answers, as one
// that is stopping.
type silent struct{}

func (silent) Receive(actor.Context) {}

// TestStopRightAfterStartDoesNotWaitForTheDLQ stops a publisher whose
// first job, loading the parked dead letters, waits on a DLQ actor that is
// stopping (it never answers: the request is cancelled) or already gone
// (the request fails and the load pauses). DrainTimeout, the client's
// timeout and PauseDelay are an hour, so the stop completing within the
// stop future's 10 s shows that no drain wait happened.
func TestStopRightAfterStartDoesNotWaitForTheDLQ(t *testing.T) {
	for _, tt := range []struct {
		name string
		// stopped stops the DLQ actor before the publisher starts.
		stopped bool
		// want is what the load's request may return: a request to a
		// stopped actor fails, unless the stop cancels it first.
		want []error
	}{
		{"dlq stopping", false, []error{context.Canceled}},
		{"dlq gone", true, []error{actor.ErrDeadLetter, context.Canceled}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			sys := quietSystem()
			t.Cleanup(sys.Shutdown)
			dlqPID := sys.Root.Spawn(actor.PropsFromProducer(func() actor.Actor { return silent{} }))
			if tt.stopped {
				if err := sys.Root.StopFuture(dlqPID).Wait(); err != nil {
					t.Fatalf("stop dlq: %v", err)
				}
			}
			policy, err := resilience.New(resilience.Config{})
			if err != nil {
				t.Fatal(err)
			}
			dl := &watchedDeadLetters{DeadLetters: dlq.NewClient(sys.Root, dlqPID, time.Hour), asked: make(chan struct{})}
			props, err := publisher.Props(
				publisher.Config{DrainTimeout: time.Hour, PauseDelay: time.Hour},
				publisher.Deps{Producer: newFakeProducer(), Policy: policy, DeadLetters: dl, IsPermanent: isTooLarge},
			)
			if err != nil {
				t.Fatal(err)
			}
			pid := sys.Root.Spawn(props)
			select {
			case <-dl.asked:
			case <-time.After(5 * time.Second):
				t.Fatal("the publisher never loaded its dead letters")
			}
			if err := sys.Root.StopFuture(pid).Wait(); err != nil {
				t.Fatalf("stop right after start: %v (it waited for the load)", err)
			}
			poll.Eventually(t, 5*time.Second, poll.True(fmt.Sprintf("the load's request to end with one of %v", tt.want), func() bool { return dl.returned(tt.want...) }))
		})
	}
}

// TestStopDoesNotWaitForAPausedBatch stops a publisher whose batch is
// paused by a broker outage. DrainTimeout and PauseDelay are an hour, so
// the stop completing within the stop future's 10 s shows that it gave up
// at once; the events are not acked, so the stream reads them again.
func TestStopDoesNotWaitForAPausedBatch(t *testing.T) {
	prod := newFakeProducer()
	prod.setDown(true)
	r := startRelay(t, prod, isTooLarge, dlqtest.NewMemoryStore(),
		withPublisher(publisher.Config{Linger: time.Millisecond, PauseDelay: time.Hour, DrainTimeout: time.Hour}))
	r.publish(order(2, nil)...)
	poll.Eventually(t, 5*time.Second, poll.True("a publish attempt", func() bool { return prod.calls() > 0 }))
	if err := r.sys.Root.StopFuture(r.pub).Wait(); err != nil {
		t.Fatalf("stop with a paused batch: %v (it waited for the broker)", err)
	}
	if n := r.sink.count(); n != 0 {
		t.Errorf("%d event(s) acked while the broker was down", n)
	}
}
