package coordinator_test

import (
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"google.golang.org/protobuf/proto"

	"github.com/outboxnode/outbox/actors/coordinator"
	"github.com/outboxnode/outbox/actors/health"
	"github.com/outboxnode/outbox/actors/orders"
	"github.com/outboxnode/outbox/actors/orders/orderstest"
	"github.com/outboxnode/outbox/actors/supervision"
	"github.com/outboxnode/outbox/messages"
)

// commandChildren builds the command side of the tree as cmd/outbox-node wires it, over
// store; the relay adds its children (cdcstream, dlq) to the same list.
func commandChildren(sys *actor.ActorSystem, dir string, store orders.Store) ([]coordinator.Child, *supervision.Log, error) {
	log, err := supervision.New(sys, supervision.Config{Path: filepath.Join(dir, "supervision.log")})
	if err != nil {
		return nil, nil, err
	}
	ordersProps, err := orders.Props(store, orders.Config{})
	if err != nil {
		return nil, nil, err
	}
	healthProps, err := health.Props(health.Config{})
	if err != nil {
		return nil, nil, err
	}
	return []coordinator.Child{
		{Name: "supervision", Props: log.Props(), Routes: []proto.Message{&messages.EventsQuery{}}},
		{Name: "orders", Props: supervision.Observe(ordersProps), Routes: []proto.Message{
			&messages.CreateOrder{}, &messages.UpdateOrder{}, &messages.CancelOrder{}, &messages.GetOrder{},
		}},
		{Name: "health", Props: supervision.Observe(healthProps), Routes: []proto.Message{&messages.HealthQuery{}}},
	}, log, nil
}

func Example() {
	sys := actor.NewActorSystem(actor.WithLoggerFactory(func(*actor.ActorSystem) *slog.Logger {
		return slog.New(slog.DiscardHandler)
	}))
	defer sys.Shutdown()
	dir, err := os.MkdirTemp("", "coordinator-example")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)

	children, log, err := commandChildren(sys, dir, orderstest.NewStore())
	if err != nil {
		panic(err)
	}
	defer log.Close()
	cfg := coordinator.Config{RestartBudget: coordinator.DefaultRestartBudget}
	cfg.OnFatal = func(err error) { fmt.Println("fatal:", err) }
	props, err := coordinator.Props(cfg, children)
	if err != nil {
		panic(err)
	}
	pid, err := coordinator.Spawn(sys.Root, props)
	if err != nil {
		panic(err)
	}
	defer func() { _ = sys.Root.PoisonFuture(pid).Wait() }()

	// A remote client would use actor.NewPID(nodeAddr, coordinator.Name) instead of pid.
	ask := func(m proto.Message) any {
		res, err := sys.Root.RequestFuture(pid, m, 5*time.Second).Result()
		if err != nil {
			panic(err)
		}
		return res
	}
	created := ask(&messages.CreateOrder{CustomerId: "alice", Amount: "12.5", Currency: "EUR",
		Items: []*messages.Item{{Sku: "BOOK-1", Quantity: 2}}}).(*messages.CommandAccepted)
	fmt.Println("created version", created.GetVersion())
	cancelled := ask(&messages.CancelOrder{OrderId: created.GetOrderId(), Reason: "duplicate"}).(*messages.CommandAccepted)
	fmt.Println("cancelled version", cancelled.GetVersion())
	fmt.Println(ask(&messages.CancelOrder{OrderId: created.GetOrderId()}).(*messages.CommandRejected).GetCode())
	order := ask(&messages.GetOrder{OrderId: created.GetOrderId()}).(*messages.OrderView)
	fmt.Println(order.GetStatus(), order.GetAmount(), order.GetCurrency())
	fmt.Println(ask(&messages.HealthQuery{}).(*messages.HealthReport).GetStatus())
	// Output:
	// created version 1
	// cancelled version 2
	// REJECT_CODE_INVALID_TRANSITION
	// ORDER_STATUS_CANCELLED 12.50 EUR
	// HEALTH_STATUS_OK
}
