package coordinator_test

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"google.golang.org/protobuf/proto"

	"github.com/outboxnode/outbox/actors/admission"
	"github.com/outboxnode/outbox/actors/coordinator"
	"github.com/outboxnode/outbox/actors/health"
	"github.com/outboxnode/outbox/actors/orders/orderstest"
	"github.com/outboxnode/outbox/actors/supervision"
	"github.com/outboxnode/outbox/internal/poll"
	"github.com/outboxnode/outbox/messages"
)

// counter answers CreateOrder with the number of commands this instance has seen, so a
// restart (a new instance) shows as the count starting again at 1.
type counter struct{ n int32 }

func (c *counter) Receive(ctx actor.Context) {
	if _, ok := ctx.Message().(*messages.CreateOrder); ok {
		c.n++
		ctx.Respond(&messages.CommandAccepted{OrderId: ctx.Self().Id, Version: c.n})
	}
}

// fatalRecorder collects OnFatal calls.
type fatalRecorder struct {
	mu   sync.Mutex
	errs []error
}

func (f *fatalRecorder) onFatal(err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.errs = append(f.errs, err)
}

func (f *fatalRecorder) get() []error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]error(nil), f.errs...)
}

type node struct {
	t       *testing.T
	sys     *actor.ActorSystem
	pid     *actor.PID
	fatal   *fatalRecorder
	logPath string
}

// quietSystem returns an actor system without log output, shut down at test end.
func quietSystem(t *testing.T) *actor.ActorSystem {
	sys := actor.NewActorSystem(actor.WithLoggerFactory(func(*actor.ActorSystem) *slog.Logger {
		return slog.New(slog.DiscardHandler)
	}))
	t.Cleanup(sys.Shutdown)
	return sys
}

// spawnNode spawns the coordinator over children with cfg, recording OnFatal, and
// stops it at test end (before the system shuts down).
func spawnNode(t *testing.T, sys *actor.ActorSystem, cfg coordinator.Config, children []coordinator.Child) *node {
	t.Helper()
	fatal := &fatalRecorder{}
	cfg.OnFatal = fatal.onFatal
	props, err := coordinator.Props(cfg, children)
	if err != nil {
		t.Fatal(err)
	}
	pid, err := coordinator.Spawn(sys.Root, props)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sys.Root.PoisonFuture(pid).Wait() })
	return &node{t: t, sys: sys, pid: pid, fatal: fatal}
}

// startNode runs a coordinator over the supervision log, a counter as orders, and health.
func startNode(t *testing.T, budget int, faults bool) *node {
	t.Helper()
	sys := quietSystem(t)
	logPath := filepath.Join(t.TempDir(), "supervision.log")
	log, err := supervision.New(sys, supervision.Config{Path: logPath})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(log.Close)
	healthProps, err := health.Props(health.Config{})
	if err != nil {
		t.Fatal(err)
	}
	cfg := coordinator.Config{RestartBudget: coordinator.DefaultRestartBudget}
	cfg.RestartBudget, cfg.EnableFaultInjection = budget, faults
	n := spawnNode(t, sys, cfg, []coordinator.Child{
		{Name: "supervision", Props: log.Props(), Routes: []proto.Message{&messages.EventsQuery{}}},
		{
			Name:   "orders",
			Props:  supervision.Observe(actor.PropsFromProducer(func() actor.Actor { return &counter{} })),
			Routes: []proto.Message{&messages.CreateOrder{}, &messages.UpdateOrder{}},
		},
		{Name: "health", Props: supervision.Observe(healthProps), Routes: []proto.Message{&messages.HealthQuery{}}},
	})
	n.logPath = logPath
	return n
}

func (n *node) ask(msg proto.Message) any {
	n.t.Helper()
	res, err := n.sys.Root.RequestFuture(n.pid, msg, 5*time.Second).Result()
	if err != nil {
		n.t.Fatalf("request %T: %v", msg, err)
	}
	return res
}

// count sends a CreateOrder to the orders child and returns its per-instance count.
func (n *node) count() int32 {
	n.t.Helper()
	acc, ok := n.ask(&messages.CreateOrder{}).(*messages.CommandAccepted)
	if !ok {
		n.t.Fatal("orders child did not answer")
	}
	return acc.GetVersion()
}

func (n *node) inject(actorName string) {
	n.t.Helper()
	if _, ok := n.ask(&messages.InjectFault{Actor: actorName}).(*messages.FaultInjected); !ok {
		n.t.Fatalf("fault in %s not injected", actorName)
	}
}

// waitFatal waits until OnFatal has been called and returns its errors.
func (n *node) waitFatal() []error {
	n.t.Helper()
	poll.Eventually(n.t, 5*time.Second, poll.True("OnFatal called", func() bool { return len(n.fatal.get()) > 0 }))
	return n.fatal.get()
}

// waitForEvent polls EventsQuery through the coordinator until actorID has had count
// events named event.
func (n *node) waitForEvent(actorID, event string, count int) {
	n.t.Helper()
	poll.Eventually(n.t, 5*time.Second, func() error {
		page, ok := n.ask(&messages.EventsQuery{}).(*messages.EventsPage)
		if !ok {
			return errors.New("no events page")
		}
		seen := 0
		for _, ev := range page.GetEvents() {
			if ev.GetActor() == actorID && ev.GetEvent() == event {
				seen++
			}
		}
		if seen < count {
			return fmt.Errorf("%d %q events of %s, want %d", seen, event, actorID, count)
		}
		return nil
	})
}

func TestRoutesByMessageTypeAndRejectsTheRest(t *testing.T) {
	n := startNode(t, 10, false)
	acc, ok := n.ask(&messages.CreateOrder{}).(*messages.CommandAccepted)
	if !ok || acc.GetOrderId() != "coordinator/orders" {
		t.Fatalf("create answered by %v", acc)
	}
	if r, ok := n.ask(&messages.HealthQuery{}).(*messages.HealthReport); !ok || r.GetStatus() != messages.HealthStatus_HEALTH_STATUS_OK {
		t.Fatalf("health = %v", r)
	}
	n.waitForEvent("coordinator", supervision.EventStarted, 1)

	rej, ok := n.ask(&messages.DLQList{}).(*messages.CommandRejected)
	if !ok || rej.GetCode() != messages.RejectCode_REJECT_CODE_INVALID_ARGUMENT || !strings.Contains(rej.GetReason(), "outbox.v1.DLQList") {
		t.Fatalf("unrouted request: %v", rej)
	}
	rej, ok = n.ask(&messages.InjectFault{Actor: "orders"}).(*messages.CommandRejected)
	if !ok || rej.GetCode() != messages.RejectCode_REJECT_CODE_PERMISSION_DENIED {
		t.Fatalf("fault injection while disabled: %v", rej)
	}
	if n.count() != 2 {
		t.Fatal("the orders child restarted although fault injection is disabled")
	}
}

func TestPanickingChildIsRestartedAlone(t *testing.T) {
	n := startNode(t, 10, true)
	n.count()
	n.count()
	n.inject("orders")
	if got := n.count(); got != 1 {
		t.Fatalf("count after the fault = %d, want 1 (a new instance)", got)
	}
	n.waitForEvent("coordinator/orders", supervision.EventFailed, 1)
	n.waitForEvent("coordinator/orders", supervision.EventRestarted, 1)
	n.waitForEvent("coordinator/orders", supervision.EventStarted, 2)

	// One-for-one: the siblings kept running.
	page := n.ask(&messages.EventsQuery{}).(*messages.EventsPage)
	for _, ev := range page.GetEvents() {
		if ev.GetActor() != "coordinator/orders" && ev.GetEvent() != supervision.EventStarted {
			t.Fatalf("unexpected event %v", ev)
		}
	}
	if r, ok := n.ask(&messages.HealthQuery{}).(*messages.HealthReport); !ok || r == nil {
		t.Fatal("the coordinator stopped serving after a child restart")
	}
	file, err := os.ReadFile(n.logPath)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(file), `"actor":"coordinator/orders","event":"restarted","reason":"injected fault in orders","directive":"restart"`) {
		t.Fatalf("restart missing from the log file:\n%s", file)
	}
	rej, ok := n.ask(&messages.InjectFault{Actor: "nobody"}).(*messages.CommandRejected)
	if !ok || rej.GetCode() != messages.RejectCode_REJECT_CODE_NOT_FOUND {
		t.Fatalf("fault for an unknown actor: %v", rej)
	}
	if errs := n.fatal.get(); len(errs) != 0 {
		t.Fatalf("OnFatal called: %v", errs)
	}
}

func TestCoordinatorRestartsItself(t *testing.T) {
	n := startNode(t, 10, true)
	n.count()
	n.inject(coordinator.Name)
	n.waitForEvent("coordinator", supervision.EventRestarted, 1)
	n.waitForEvent("coordinator/orders", supervision.EventStarted, 2)
	if got := n.count(); got != 1 {
		t.Fatalf("count after the coordinator restarted = %d, want 1", got)
	}
	if errs := n.fatal.get(); len(errs) != 0 {
		t.Fatalf("OnFatal called: %v", errs)
	}
}

func TestExhaustedBudgetIsFatal(t *testing.T) {
	for _, target := range []string{"orders", coordinator.Name} {
		t.Run(target, func(t *testing.T) {
			n := startNode(t, 2, true)
			id := "coordinator/" + target
			if target == coordinator.Name {
				id = coordinator.Name
			}
			for i := range 2 {
				n.inject(target)
				n.waitForEvent(id, supervision.EventRestarted, i+1)
			}
			if errs := n.fatal.get(); len(errs) != 0 {
				t.Fatalf("OnFatal within the budget: %v", errs)
			}
			n.inject(target)
			errs := n.waitFatal()
			if len(errs) != 1 || !errors.Is(errs[0], coordinator.ErrRestartBudgetExhausted) || !strings.Contains(errs[0].Error(), id) {
				t.Fatalf("OnFatal errors = %v", errs)
			}
			if target == coordinator.Name {
				// The tree is gone; main exits on OnFatal.
				return
			}
			n.waitForEvent(id, supervision.EventStoppedBySupervisor, 1)
			// The event is recorded when the supervisor decides to stop the
			// child; the coordinator refuses once the child has terminated.
			// A request sent in between is lost with the child's mailbox.
			poll.Eventually(t, 5*time.Second, func() error {
				res, err := n.sys.Root.RequestFuture(n.pid, &messages.CreateOrder{}, time.Second).Result()
				if err != nil {
					return err
				}
				if rej, ok := res.(*messages.CommandRejected); !ok || rej.GetCode() != messages.RejectCode_REJECT_CODE_UNAVAILABLE {
					return fmt.Errorf("request for the stopped child: %v", res)
				}
				return nil
			})
		})
	}
}

func TestPropsValidation(t *testing.T) {
	p := actor.PropsFromFunc(func(actor.Context) {})
	ok := coordinator.Config{RestartBudget: coordinator.DefaultRestartBudget}
	ok.OnFatal = func(error) {}
	tests := []struct {
		name     string
		cfg      coordinator.Config
		children []coordinator.Child
		want     string
	}{
		{"no OnFatal", coordinator.Config{RestartBudget: coordinator.DefaultRestartBudget}, nil, "OnFatal"},
		{"negative budget", coordinator.Config{RestartBudget: -1, RestartWindow: time.Second, OnFatal: ok.OnFatal}, nil, "budget"},
		{"negative window", coordinator.Config{RestartWindow: -time.Second, OnFatal: ok.OnFatal}, nil, "window"},
		{"empty name", ok, []coordinator.Child{{Props: p}}, "name"},
		{"slash", ok, []coordinator.Child{{Name: "a/b", Props: p}}, "name"},
		{"twice", ok, []coordinator.Child{{Name: "a", Props: p}, {Name: "a", Props: p}}, "twice"},
		{"nil props", ok, []coordinator.Child{{Name: "a"}}, "nil props"},
		{"route twice", ok, []coordinator.Child{
			{Name: "a", Props: p, Routes: []proto.Message{&messages.GetOrder{}}},
			{Name: "b", Props: p, Routes: []proto.Message{&messages.GetOrder{}}},
		}, "routed to both"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := coordinator.Props(tc.cfg, tc.children)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want one containing %q", err, tc.want)
			}
		})
	}
}

// A restarted orders actor loses its per-order children; the orders are read again from
// the store and keep their versions.
func TestOrdersResumeFromTheStoreAfterARestart(t *testing.T) {
	sys := quietSystem(t)
	store := orderstest.NewStore()
	children, log, err := commandChildren(sys, t.TempDir(), store)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(log.Close)
	cfg := coordinator.Config{RestartBudget: coordinator.DefaultRestartBudget}
	cfg.EnableFaultInjection = true
	n := spawnNode(t, sys, cfg, children)

	created, ok := n.ask(&messages.CreateOrder{CustomerId: "bob", Amount: "3", Currency: "USD"}).(*messages.CommandAccepted)
	if !ok {
		t.Fatal("create rejected")
	}
	n.inject("orders")
	n.waitForEvent("coordinator/orders", supervision.EventRestarted, 1)
	amount := "4.00"
	acc, ok := n.ask(&messages.UpdateOrder{OrderId: created.GetOrderId(), Amount: &amount}).(*messages.CommandAccepted)
	if !ok || acc.GetVersion() != 2 {
		t.Fatalf("update after the restart: %v", acc)
	}
	if store.Loads() != 1 {
		t.Fatalf("%d loads, want 1 (after the restart)", store.Loads())
	}
	if errs := n.fatal.get(); len(errs) != 0 {
		t.Fatalf("OnFatal called: %v", errs)
	}
}

func TestChildStoppingOnItsOwnIsFatal(t *testing.T) {
	quitter := actor.PropsFromFunc(func(ctx actor.Context) {
		if _, ok := ctx.Message().(*messages.DLQList); ok {
			ctx.Stop(ctx.Self())
		}
	})
	n := spawnNode(t, quietSystem(t), coordinator.Config{RestartBudget: coordinator.DefaultRestartBudget},
		[]coordinator.Child{{Name: "dlq", Props: quitter, Routes: []proto.Message{&messages.DLQList{}}}})
	n.sys.Root.Send(n.pid, &messages.DLQList{})
	if errs := n.waitFatal(); !errors.Is(errs[0], coordinator.ErrChildStopped) || !strings.Contains(errs[0].Error(), "coordinator/dlq") {
		t.Fatalf("OnFatal errors = %v", errs)
	}
}

func TestOrderlyStopIsNotFatal(t *testing.T) {
	n := startNode(t, 10, false)
	n.count()
	if err := n.sys.Root.PoisonFuture(n.pid).Wait(); err != nil {
		t.Fatal(err)
	}
	if errs := n.fatal.get(); len(errs) != 0 {
		t.Fatalf("OnFatal called on an orderly stop: %v", errs)
	}
}

func TestSupervisionLogSurvivesItsOwnRestart(t *testing.T) {
	n := startNode(t, 10, true)
	n.waitForEvent("coordinator/health", supervision.EventStarted, 1)
	before := n.ask(&messages.EventsQuery{}).(*messages.EventsPage).GetLastSeq()
	n.inject("supervision")
	n.waitForEvent("coordinator/supervision", supervision.EventRestarted, 1)
	page := n.ask(&messages.EventsQuery{}).(*messages.EventsPage)
	for i, ev := range page.GetEvents() {
		if ev.GetSeq() != uint64(i+1) {
			t.Fatalf("event %d has seq %d: the numbering broke across the restart", i, ev.GetSeq())
		}
	}
	if page.GetLastSeq() <= before {
		t.Fatalf("last seq %d, was %d before the restart", page.GetLastSeq(), before)
	}
}

// TestClosedGateRefusesEveryRequest closes the admission gate and checks
// that commands, queries and fault injection are all answered at once with
// SHUTTING_DOWN and reach no child.
func TestClosedGateRefusesEveryRequest(t *testing.T) {
	sys := quietSystem(t)
	gate := &admission.Gate{}
	reached := make(chan any, 10)
	cfg := coordinator.Config{RestartBudget: coordinator.DefaultRestartBudget}
	cfg.Gate, cfg.EnableFaultInjection = gate, true
	n := spawnNode(t, sys, cfg, []coordinator.Child{{
		Name: "orders",
		Props: actor.PropsFromFunc(func(ctx actor.Context) {
			if _, ok := ctx.Message().(*messages.CreateOrder); ok {
				reached <- ctx.Message()
				ctx.Respond(&messages.CommandAccepted{})
			}
		}),
		Routes: []proto.Message{&messages.CreateOrder{}, &messages.HealthQuery{}},
	}})
	if _, ok := n.ask(&messages.CreateOrder{}).(*messages.CommandAccepted); !ok {
		t.Fatal("open gate: command not routed")
	}
	<-reached
	gate.Close()
	for _, msg := range []proto.Message{&messages.CreateOrder{}, &messages.HealthQuery{}, &messages.InjectFault{Actor: "orders"}, &messages.DLQList{}} {
		rej, ok := n.ask(msg).(*messages.CommandRejected)
		if !ok || rej.GetCode() != messages.RejectCode_REJECT_CODE_SHUTTING_DOWN {
			t.Errorf("%T after the gate closed: %v, want SHUTTING_DOWN", msg, rej)
		}
	}
	select {
	case m := <-reached:
		t.Errorf("%T reached the child after the gate closed", m)
	default:
	}
	if errs := n.fatal.get(); len(errs) != 0 {
		t.Errorf("fatal: %v", errs)
	}
}

// TestStoppingCoordinatorRoutesNothing stops the coordinator while its
// child takes long to stop, and checks that requests arriving meanwhile
// are refused as UNAVAILABLE instead of routed to the stopping child.
func TestStoppingCoordinatorRoutesNothing(t *testing.T) {
	sys := quietSystem(t)
	release := make(chan struct{})
	stopping := make(chan struct{})
	routed := make(chan struct{}, 10)
	cfg := coordinator.Config{RestartBudget: coordinator.DefaultRestartBudget}
	n := spawnNode(t, sys, cfg, []coordinator.Child{{
		Name: "orders",
		Props: actor.PropsFromFunc(func(ctx actor.Context) {
			switch ctx.Message().(type) {
			case *actor.Stopping:
				close(stopping)
				<-release
			case *messages.CreateOrder:
				routed <- struct{}{}
				ctx.Respond(&messages.CommandAccepted{})
			}
		}),
		Routes: []proto.Message{&messages.CreateOrder{}},
	}})
	stopped := sys.Root.PoisonFuture(n.pid)
	<-stopping
	rej, ok := n.ask(&messages.CreateOrder{}).(*messages.CommandRejected)
	if !ok || rej.GetCode() != messages.RejectCode_REJECT_CODE_UNAVAILABLE || !strings.Contains(rej.GetReason(), "stopping") {
		t.Errorf("request to a stopping coordinator: %v, want UNAVAILABLE (stopping)", rej)
	}
	close(release)
	if err := stopped.Wait(); err != nil {
		t.Fatal(err)
	}
	if len(routed) != 0 {
		t.Error("a request was routed to a stopping child")
	}
}
