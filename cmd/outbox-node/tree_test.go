package main

import (
	"context"
	"errors"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/protobuf/proto"

	"github.com/outboxnode/outbox/actors/coordinator"
	"github.com/outboxnode/outbox/actors/orders/orderstest"
	"github.com/outboxnode/outbox/infra/config"
	"github.com/outboxnode/outbox/infra/metrics"
	"github.com/outboxnode/outbox/internal/poll"
	"github.com/outboxnode/outbox/messages"
)

// TestPoisonAndWaitUsesTheShutdownBound stops an actor whose stop outlasts
// a short shutdown bound (an error, not protoactor's fixed 10 s), then one
// that stops in time, and one already gone.
func TestPoisonAndWaitUsesTheShutdownBound(t *testing.T) {
	quiet := slog.New(slog.DiscardHandler)
	sys := actor.NewActorSystem(actor.WithLoggerFactory(func(*actor.ActorSystem) *slog.Logger { return quiet }))
	release := make(chan struct{})
	slow, err := sys.Root.SpawnNamed(actor.PropsFromFunc(func(ctx actor.Context) {
		if _, ok := ctx.Message().(*actor.Stopping); ok {
			<-release
		}
	}), "slow")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := poisonAndWait(ctx, sys, slow); !errors.Is(err, actor.ErrTimeout) {
		t.Errorf("stop past the bound: %v, want %v", err, actor.ErrTimeout)
	}
	close(release)

	quick, err := sys.Root.SpawnNamed(actor.PropsFromFunc(func(actor.Context) {}), "quick")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"in time", "already gone"} {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		if err := poisonAndWait(ctx, sys, quick); err != nil {
			t.Errorf("%s: %v", name, err)
		}
		cancel()
	}
}

// newTestTree spawns the command side of the tree (orders over an
// in-memory store, health, supervision log) the way the node does, without
// a remote or a relay.
func newTestTree(t *testing.T) (*node, *orderstest.Store) {
	t.Helper()
	quiet := slog.New(slog.DiscardHandler)
	cfg := config.Default()
	cfg.Node.ShutdownTimeout = 20 * time.Second
	n := &node{cfg: cfg, logger: quiet, fatal: make(chan error, 1)}
	n.sys = actor.NewActorSystem(actor.WithLoggerFactory(func(*actor.ActorSystem) *slog.Logger { return quiet }))
	m, err := metrics.New(prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	store := orderstest.NewStore()
	n.coordinator, err = n.spawnTree(n.sys, treeDeps{
		store:          store,
		metrics:        m,
		supervisionLog: filepath.Join(t.TempDir(), "supervision.log"),
	})
	if err != nil {
		t.Fatal(err)
	}
	return n, store
}

// waitFatal returns what n.wait returns once the node fails on its own.
func waitFatal(t *testing.T, n *node) error {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- n.wait(context.Background()) }()
	select {
	case err := <-done:
		return err
	case <-time.After(30 * time.Second):
		t.Fatal("the node did not notice that its coordinator stopped")
		return nil
	}
}

// TestCoordinatorStoppedFromInsideIsFatal stops the coordinator the ways a
// node does not (PoisonPill, Stop) and checks each time that the node's
// wait returns a fatal reason naming it, and that the gate is then closed.
func TestCoordinatorStoppedFromInsideIsFatal(t *testing.T) {
	for name, stop := range map[string]func(*actor.ActorSystem, *actor.PID){
		"poison pill": func(sys *actor.ActorSystem, pid *actor.PID) { sys.Root.Poison(pid) },
		"stop":        func(sys *actor.ActorSystem, pid *actor.PID) { sys.Root.Stop(pid) },
	} {
		t.Run(name, func(t *testing.T) {
			n, _ := newTestTree(t)
			stop(n.sys, n.coordinator)
			err := waitFatal(t, n)
			if !errors.Is(err, coordinator.ErrChildStopped) || !strings.Contains(err.Error(), "coordinator terminated") {
				t.Fatalf("fatal reason %v, want the coordinator's termination", err)
			}
			if !n.gate.Closed() {
				t.Error("gate still open after a fatal failure")
			}
			if err := n.shutdown(); err != nil {
				t.Errorf("shutdown after the coordinator stopped: %v", err)
			}
		})
	}
}

// TestShutdownIsNotFatal checks that the node's own stop of the
// coordinator is not reported as a failure.
func TestShutdownIsNotFatal(t *testing.T) {
	n, _ := newTestTree(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := n.wait(ctx); err != nil {
		t.Fatalf("wait after the signal: %v", err)
	}
	if err := n.shutdown(); err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	select {
	case err := <-n.fatal:
		t.Fatalf("the node's own stop was reported as fatal: %v", err)
	case <-time.After(200 * time.Millisecond):
	}
}

// TestShutdownUnderLoadRefusesAndEnds sends CreateOrder and UpdateOrder
// from 32 goroutines while the node stops: the stop ends within its bound,
// every accepted command is committed, none is accepted once wait has
// closed the gate, and the rest are refused with SHUTTING_DOWN (or time
// out once the coordinator is gone).
func TestShutdownUnderLoadRefusesAndEnds(t *testing.T) {
	n, store := newTestTree(t)
	var (
		mu       sync.Mutex
		accepted = map[string]time.Time{} // event id -> when the request was sent
		refused  int
		stopAt   atomic.Int64 // unix nanos when the gate closed; 0 before
		stop     = make(chan struct{})
		wg       sync.WaitGroup
	)
	for range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var id string
			for {
				select {
				case <-stop:
					return
				default:
				}
				var req any = &messages.CreateOrder{CustomerId: "c", Amount: "1.00", Currency: "EUR"}
				if id != "" {
					req = &messages.UpdateOrder{OrderId: id, Amount: proto.String("2.00")}
				}
				sent := time.Now()
				res, err := n.sys.Root.RequestFuture(n.coordinator, req, 5*time.Second).Result()
				if err != nil {
					continue
				}
				mu.Lock()
				switch r := res.(type) {
				case *messages.CommandAccepted:
					accepted[r.GetEventId()] = sent
					id = r.GetOrderId()
				case *messages.CommandRejected:
					if r.GetCode() != messages.RejectCode_REJECT_CODE_SHUTTING_DOWN {
						t.Errorf("unexpected rejection %v", r)
					}
					refused++
				}
				mu.Unlock()
			}
		}()
	}
	poll.Eventually(t, 30*time.Second, poll.True("500 commits", func() bool { return len(store.Changes()) >= 500 }))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := n.wait(ctx); err != nil {
		t.Fatal(err)
	}
	stopAt.Store(time.Now().UnixNano())
	start := time.Now()
	if err := n.shutdown(); err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	t.Logf("shutdown took %s", time.Since(start))
	close(stop)
	wg.Wait()

	committed := map[string]bool{}
	for _, c := range store.Changes() {
		committed[c.Event.GetEventId()] = true
	}
	gateClosed := time.Unix(0, stopAt.Load())
	for ev, sent := range accepted {
		if !committed[ev] {
			t.Errorf("accepted event %s is not in the store", ev)
		}
		if sent.After(gateClosed) {
			t.Errorf("event %s accepted for a request sent %s after the gate closed", ev, sent.Sub(gateClosed))
		}
	}
	if len(committed) != len(accepted) {
		t.Errorf("%d commits, %d accepted replies", len(committed), len(accepted))
	}
	t.Logf("accepted %d, refused SHUTTING_DOWN %d", len(accepted), refused)
}
