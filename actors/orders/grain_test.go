package orders_test

import (
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/asynkron/protoactor-go/cluster"
	"github.com/google/uuid"
	"google.golang.org/protobuf/proto"

	"github.com/outboxnode/outbox/actors/orders"
	"github.com/outboxnode/outbox/actors/orders/orderstest"
	"github.com/outboxnode/outbox/messages"
)

// grains stands in for the cluster: it activates one grain per order id,
// as the cluster would, and sends it its identity.
type grains struct {
	t     *testing.T
	sys   *actor.ActorSystem
	props *actor.Props
	mu    sync.Mutex
	pids  map[uuid.UUID]*actor.PID
}

func (g *grains) send(id uuid.UUID, msg any) (any, error) {
	g.mu.Lock()
	pid, ok := g.pids[id]
	if !ok {
		pid = g.sys.Root.Spawn(g.props)
		g.sys.Root.Send(pid, &cluster.ClusterInit{Identity: cluster.NewClusterIdentity(id.String(), orders.GrainKind)})
		g.pids[id] = pid
	}
	g.mu.Unlock()
	return g.sys.Root.RequestFuture(pid, msg, 10*time.Second).Result()
}

func startGrains(t *testing.T, grainsOf func(*grains) orders.Grains) (*actor.ActorSystem, *actor.PID, *orderstest.Store, *grains) {
	t.Helper()
	sys := actor.NewActorSystem(actor.WithLoggerFactory(func(*actor.ActorSystem) *slog.Logger { return slog.New(slog.DiscardHandler) }))
	t.Cleanup(sys.Shutdown)
	store := orderstest.NewStore()
	props, err := orders.GrainProps(store, orders.Config{})
	if err != nil {
		t.Fatal(err)
	}
	g := &grains{t: t, sys: sys, props: props, pids: map[uuid.UUID]*actor.PID{}}
	router, err := orders.GrainRouterProps(orders.Config{}, grainsOf(g))
	if err != nil {
		t.Fatal(err)
	}
	return sys, sys.Root.Spawn(router), store, g
}

func request(t *testing.T, sys *actor.ActorSystem, pid *actor.PID, msg any) any {
	t.Helper()
	res, err := sys.Root.RequestFuture(pid, msg, 5*time.Second).Result()
	if err != nil {
		t.Fatalf("request %T: %v", msg, err)
	}
	return res
}

// In cluster mode the router validates and forwards; the order's grain
// runs the command and answers the requester.
func TestGrainRunsTheOrdersCommands(t *testing.T) {
	sys, router, store, g := startGrains(t, func(g *grains) orders.Grains { return g.send })
	acc, ok := request(t, sys, router, &messages.CreateOrder{CustomerId: "alice", Amount: "12.50", Currency: "EUR"}).(*messages.CommandAccepted)
	if !ok || acc.GetVersion() != 1 {
		t.Fatalf("create: %v", acc)
	}
	if store.Loads() != 0 {
		t.Fatalf("a create read the store %d times; its id is new", store.Loads())
	}
	upd := request(t, sys, router, &messages.UpdateOrder{OrderId: acc.GetOrderId(), Amount: proto.String("13.00")})
	if a, ok := upd.(*messages.CommandAccepted); !ok || a.GetVersion() != 2 {
		t.Fatalf("update: %v", upd)
	}
	view, ok := request(t, sys, router, &messages.GetOrder{OrderId: acc.GetOrderId()}).(*messages.OrderView)
	if !ok || view.GetVersion() != 2 || view.GetAmount() != "13.00" {
		t.Fatalf("get: %v", view)
	}
	if len(g.pids) != 1 {
		t.Fatalf("%d grains for one order", len(g.pids))
	}
	// Bad input is refused by the router: no grain is activated for it.
	if rej, ok := request(t, sys, router, &messages.UpdateOrder{OrderId: "nope", Amount: proto.String("1")}).(*messages.CommandRejected); !ok || rej.GetCode() != messages.RejectCode_REJECT_CODE_INVALID_ARGUMENT {
		t.Fatalf("bad id: %v", rej)
	}
	if len(g.pids) != 1 {
		t.Fatalf("a refused command activated a grain")
	}
	// A command sent straight to another order's grain is refused, not applied there.
	other := request(t, sys, g.pids[uuid.MustParse(acc.GetOrderId())], &messages.CancelOrder{OrderId: uuid.NewString()})
	if rej, ok := other.(*messages.CommandRejected); !ok || rej.GetCode() != messages.RejectCode_REJECT_CODE_INVALID_ARGUMENT {
		t.Fatalf("misrouted cancel: %v", other)
	}
}

// An order whose grain cannot be located is UNAVAILABLE, and nothing is written.
func TestUnlocatableGrainIsUnavailable(t *testing.T) {
	sys, router, store, _ := startGrains(t, func(*grains) orders.Grains {
		return func(uuid.UUID, any) (any, error) { return nil, errors.New("no members") }
	})
	res := request(t, sys, router, &messages.CreateOrder{CustomerId: "bob", Amount: "1", Currency: "EUR"})
	if rej, ok := res.(*messages.CommandRejected); !ok || rej.GetCode() != messages.RejectCode_REJECT_CODE_UNAVAILABLE {
		t.Fatalf("create without a grain: %v", res)
	}
	if len(store.Changes()) != 0 {
		t.Fatal("written without a grain")
	}
}

// A drain waits for the grain answers in flight: the requester gets its
// answer before the router reports drained.
func TestDrainWaitsForGrainAnswers(t *testing.T) {
	release := make(chan struct{})
	sys, router, _, _ := startGrains(t, func(g *grains) orders.Grains {
		return func(id uuid.UUID, msg any) (any, error) {
			<-release
			return g.send(id, msg)
		}
	})
	// One requester for both, so its mailbox keeps the order the router
	// answered in.
	got := make(chan any, 2)
	probe := sys.Root.Spawn(actor.PropsFromFunc(func(c actor.Context) {
		switch c.Message().(type) {
		case *messages.CommandAccepted, *messages.CommandRejected, orders.Drained:
			got <- c.Message()
		}
	}))
	sys.Root.RequestWithCustomSender(router, &messages.CreateOrder{CustomerId: "carol", Amount: "3", Currency: "EUR"}, probe)
	sys.Root.RequestWithCustomSender(router, orders.Drain{}, probe)
	close(release)
	var order []string
	for range 2 {
		select {
		case m := <-got:
			order = append(order, fmt.Sprintf("%T", m))
		case <-time.After(10 * time.Second):
			t.Fatalf("answers so far %v, want the create's and the drain's", order)
		}
	}
	if want := []string{"*messages.CommandAccepted", "orders.Drained"}; !slices.Equal(order, want) {
		t.Fatalf("answers in order %v, want %v", order, want)
	}
}
