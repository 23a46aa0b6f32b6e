package cdcstream

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/outboxnode/outbox/internal/poll"
	"github.com/outboxnode/outbox/messages"
)

// fakeSource delivers its events on every Run, then waits for ctx; failRuns
// first runs fail at once. It records acks and flushes.
type fakeSource struct {
	events   []*messages.PublishEvent
	failRuns int32
	// stuck, when set, keeps Run from returning after ctx ends until it is
	// closed: a reader in a query that cannot be cancelled.
	stuck chan struct{}

	runs    atomic.Int32
	flushes atomic.Int32
	mu      sync.Mutex
	acked   []string
	lags    map[string]time.Duration
	readErr error
	// ackedAtFlush is how many acks the last Flush saw.
	ackedAtFlush int
}

func (f *fakeSource) Run(ctx context.Context, deliver func(Delivery)) error {
	if f.runs.Add(1) <= f.failRuns {
		return errors.New("store unreachable")
	}
	for _, ev := range f.events {
		id := ev.GetEvent().GetEventId()
		var once sync.Once
		deliver(Delivery{Stream: "s1", Request: ev, Ack: func() {
			once.Do(func() {
				f.mu.Lock()
				f.acked = append(f.acked, id)
				f.mu.Unlock()
			})
		}})
	}
	<-ctx.Done()
	if f.stuck != nil {
		<-f.stuck
	}
	return nil
}

func (f *fakeSource) Flush(context.Context) error {
	f.flushes.Add(1)
	f.mu.Lock()
	defer f.mu.Unlock()
	f.ackedAtFlush = len(f.acked)
	return nil
}

func (f *fakeSource) Lags(time.Time) map[string]time.Duration {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.lags
}

func (f *fakeSource) ReadErr() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.readErr
}

func (f *fakeSource) ackedIDs() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.acked...)
}

// fakePublisher acks every PublishEvent; it ignores the first drop requests.
func fakePublisher(drop int32, received *atomic.Int32) *actor.Props {
	return actor.PropsFromFunc(func(ctx actor.Context) {
		if m, ok := ctx.Message().(*messages.PublishEvent); ok {
			if received.Add(1) <= drop {
				return
			}
			ctx.Respond(&messages.EventAck{EventId: m.GetEvent().GetEventId(), Outcome: messages.AckOutcome_ACK_OUTCOME_PUBLISHED})
		}
	})
}

// drainingPublisher holds every request and acks them all only when it
// stops, as the publisher does with the batch it has in flight.
func drainingPublisher(held *atomic.Int32) *actor.Props {
	var pending []*actor.PID
	var ids []string
	return actor.PropsFromFunc(func(ctx actor.Context) {
		switch m := ctx.Message().(type) {
		case *messages.PublishEvent:
			pending = append(pending, ctx.Sender())
			ids = append(ids, m.GetEvent().GetEventId())
			held.Add(1)
		case *actor.Stopping:
			for i, pid := range pending {
				ctx.Send(pid, &messages.EventAck{EventId: ids[i], Outcome: messages.AckOutcome_ACK_OUTCOME_PUBLISHED})
			}
		}
	})
}

func events(ids ...string) []*messages.PublishEvent {
	out := make([]*messages.PublishEvent, len(ids))
	for i, id := range ids {
		out[i] = &messages.PublishEvent{Event: &messages.OutboxEvent{EventId: id, AggregateId: "a"}}
	}
	return out
}

func spawn(t *testing.T, cfg Config, src Source, pub *actor.Props) (*actor.ActorSystem, *actor.PID) {
	t.Helper()
	sys := actor.NewActorSystem()
	props, err := Props(cfg, Deps{Source: src, Publisher: pub})
	if err != nil {
		t.Fatal(err)
	}
	pid, err := sys.Root.SpawnNamed(props, "cdcstream")
	if err != nil {
		t.Fatal(err)
	}
	return sys, pid
}

func testConfig() Config {
	return Config{LogTTL: time.Hour, Tick: 10 * time.Millisecond, RetryMin: 10 * time.Millisecond, RetryMax: 20 * time.Millisecond}
}

func TestEveryAckReachesTheSourceInOrderAndStopSavesProgress(t *testing.T) {
	src := &fakeSource{events: events("e1", "e2", "e3")}
	var received atomic.Int32
	sys, pid := spawn(t, testConfig(), src, fakePublisher(0, &received))
	poll.Eventually(t, 5*time.Second, poll.True("3 acks", func() bool { return len(src.ackedIDs()) == 3 }))
	if got := src.ackedIDs(); got[0] != "e1" || got[1] != "e2" || got[2] != "e3" {
		t.Errorf("acks %v", got)
	}
	if err := sys.Root.PoisonFuture(pid).Wait(); err != nil {
		t.Fatal(err)
	}
	if src.flushes.Load() == 0 {
		t.Error("progress not saved at stop")
	}
}

func TestAcksOfTheBatchDrainedAtStopAreSaved(t *testing.T) {
	src := &fakeSource{events: events("e1", "e2", "e3")}
	var held atomic.Int32
	sys, pid := spawn(t, testConfig(), src, drainingPublisher(&held))
	poll.Eventually(t, 5*time.Second, poll.True("3 requests held", func() bool { return held.Load() == 3 }))
	if err := sys.Root.PoisonFuture(pid).Wait(); err != nil {
		t.Fatal(err)
	}
	src.mu.Lock()
	defer src.mu.Unlock()
	if src.ackedAtFlush != 3 {
		t.Fatalf("the final save saw %d of 3 acks", src.ackedAtFlush)
	}
}

// TestStopDoesNotWaitForAStuckReader stops the stream while its reader
// ignores the cancellation: the stop completes (within protoactor's 10 s
// future), bounded by the stream's own StopTimeout, and the final save
// still holds the acks of the batch the publisher drained.
func TestStopDoesNotWaitForAStuckReader(t *testing.T) {
	src := &fakeSource{events: events("e1", "e2", "e3"), stuck: make(chan struct{})}
	defer close(src.stuck)
	var held atomic.Int32
	cfg := testConfig()
	cfg.StopTimeout = 100 * time.Millisecond
	sys, pid := spawn(t, cfg, src, drainingPublisher(&held))
	poll.Eventually(t, 5*time.Second, poll.True("3 requests held", func() bool { return held.Load() == 3 }))
	if err := sys.Root.PoisonFuture(pid).Wait(); err != nil {
		t.Fatalf("stop with a stuck reader: %v", err)
	}
	src.mu.Lock()
	defer src.mu.Unlock()
	if src.ackedAtFlush != 3 {
		t.Fatalf("the final save saw %d of 3 acks", src.ackedAtFlush)
	}
}

// panickingPublisher fails on its first request, then acks every one.
func panickingPublisher(received *atomic.Int32) *actor.Props {
	return actor.PropsFromFunc(func(ctx actor.Context) {
		if m, ok := ctx.Message().(*messages.PublishEvent); ok {
			if received.Add(1) == 1 {
				panic("publisher bug")
			}
			ctx.Respond(&messages.EventAck{EventId: m.GetEvent().GetEventId(), Outcome: messages.AckOutcome_ACK_OUTCOME_PUBLISHED})
		}
	})
}

func TestPublisherFailureRestartsTheStreamWhichReadsAgain(t *testing.T) {
	src := &fakeSource{events: events("e1", "e2", "e3")}
	var received atomic.Int32
	sys, pid := spawn(t, testConfig(), src, panickingPublisher(&received))
	defer sys.Root.Stop(pid)
	poll.Eventually(t, 5*time.Second, poll.True("3 acks after the restart", func() bool { return len(src.ackedIDs()) == 3 }))
	if src.runs.Load() != 2 {
		t.Errorf("source ran %d times, want 2 (the stream restarted)", src.runs.Load())
	}
	if got := src.ackedIDs(); got[0] != "e1" || got[1] != "e2" || got[2] != "e3" {
		t.Errorf("acks %v, want e1 e2 e3 in order", got)
	}
	if src.flushes.Load() == 0 {
		t.Error("progress not saved when the stream restarted")
	}
}

func TestFailedReaderRestartsAndReportsMeanwhile(t *testing.T) {
	src := &fakeSource{events: events("e1"), failRuns: 2}
	var received atomic.Int32
	sys, pid := spawn(t, testConfig(), src, fakePublisher(0, &received))
	defer sys.Root.Stop(pid)
	poll.Eventually(t, 5*time.Second, poll.True("ack after restarts", func() bool { return len(src.ackedIDs()) == 1 }))
	if src.runs.Load() != 3 {
		t.Errorf("runs %d, want 3", src.runs.Load())
	}
}

func TestLagAboveShareOfTTLIsDegraded(t *testing.T) {
	src := &fakeSource{lags: map[string]time.Duration{"s1": time.Second, "s2": 40 * time.Minute}}
	var received atomic.Int32
	sys, pid := spawn(t, testConfig(), src, fakePublisher(0, &received))
	defer sys.Root.Stop(pid)
	probe := Probe{Root: sys.Root, PID: pid}
	poll.Eventually(t, 5*time.Second, poll.True("degraded", func() bool {
		st, _ := probe.Check(context.Background())
		return st == messages.HealthStatus_HEALTH_STATUS_DEGRADED
	}))
	res, err := sys.Root.RequestFuture(pid, &LagQuery{}, time.Second).Result()
	if err != nil {
		t.Fatal(err)
	}
	r := res.(*LagReport)
	if r.Stream != "s2" || r.Max != 40*time.Minute || r.TimeLeft != 20*time.Minute || r.Threshold != 30*time.Minute {
		t.Errorf("report %+v", r)
	}
	src.mu.Lock()
	src.lags = map[string]time.Duration{"s2": time.Second}
	src.mu.Unlock()
	poll.Eventually(t, 5*time.Second, poll.True("ok again", func() bool {
		st, _ := probe.Check(context.Background())
		return st == messages.HealthStatus_HEALTH_STATUS_OK
	}))
}

// TestFailingReadsAreDegradedWithTheReason: while the source's reads fail
// (the reader retries on its own, Run goes on) health is degraded with the
// reason and the lag, under the threshold or not; ok once reads succeed.
func TestFailingReadsAreDegradedWithTheReason(t *testing.T) {
	src := &fakeSource{lags: map[string]time.Duration{"s1": 3 * time.Second}, readErr: errors.New("cdc reader query failing: no connections")}
	var received atomic.Int32
	sys, pid := spawn(t, testConfig(), src, fakePublisher(0, &received))
	defer sys.Root.Stop(pid)
	probe := Probe{Root: sys.Root, PID: pid}
	poll.Eventually(t, 5*time.Second, poll.True("degraded with the reason", func() bool {
		st, detail := probe.Check(context.Background())
		return st == messages.HealthStatus_HEALTH_STATUS_DEGRADED && strings.Contains(detail, "no connections") && strings.Contains(detail, "lag 3s")
	}))
	src.mu.Lock()
	src.readErr, src.lags = nil, map[string]time.Duration{"s1": 0}
	src.mu.Unlock()
	poll.Eventually(t, 5*time.Second, poll.True("ok again", func() bool {
		st, detail := probe.Check(context.Background())
		return st == messages.HealthStatus_HEALTH_STATUS_OK && strings.Contains(detail, "lag 0s")
	}))
}

func TestProbeDownWhenStreamIsGone(t *testing.T) {
	sys := actor.NewActorSystem()
	st, detail := Probe{Root: sys.Root, PID: sys.NewLocalPID("nobody")}.Check(context.Background())
	if st != messages.HealthStatus_HEALTH_STATUS_DOWN || detail == "" {
		t.Errorf("%v %q", st, detail)
	}
}

func TestPropsRejectsBadInput(t *testing.T) {
	var received atomic.Int32
	if _, err := Props(Config{}, Deps{Source: &fakeSource{}, Publisher: fakePublisher(0, &received)}); !errors.Is(err, ErrInvalidConfig) {
		t.Errorf("no TTL: %v", err)
	}
	if _, err := Props(testConfig(), Deps{Source: &fakeSource{}}); !errors.Is(err, ErrInvalidConfig) {
		t.Errorf("no publisher: %v", err)
	}
	bad := testConfig()
	bad.LagShare = 2
	if _, err := Props(bad, Deps{Source: &fakeSource{}, Publisher: fakePublisher(0, &received)}); !errors.Is(err, ErrInvalidConfig) {
		t.Errorf("share 2: %v", err)
	}
}
