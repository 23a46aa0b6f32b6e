package orders_test

import (
	"fmt"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/outboxnode/outbox/actors/orders"
	"github.com/outboxnode/outbox/actors/orders/orderstest"
	"github.com/outboxnode/outbox/messages"
)

// benchIdle passivates the bench's order actors soon: each create spawns
// one, and with the node's 5 minutes they would pile up for the whole run.
// So the live actors stay bounded (rate x benchIdle), as in a node at steady
// state, and each create pays for its spawn and its passivation.
const benchIdle = 20 * time.Millisecond

// benchRouter spawns the orders router over an in-memory store: the figures measure the
// actor path (validation, routing, event building, passivation), not a database.
func benchRouter(b *testing.B) (*actor.ActorSystem, *actor.PID) {
	b.Helper()
	sys := actor.NewActorSystem(actor.WithLoggerFactory(func(*actor.ActorSystem) *slog.Logger {
		return slog.New(slog.DiscardHandler)
	}))
	props, err := orders.Props(orderstest.NewStore(), orders.Config{IdleTimeout: benchIdle})
	if err != nil {
		b.Fatal(err)
	}
	pid := sys.Root.Spawn(props)
	b.Cleanup(func() {
		_ = sys.Root.PoisonFuture(pid).Wait()
		sys.Shutdown()
	})
	return sys, pid
}

func BenchmarkCreateOrder(b *testing.B) {
	sys, pid := benchRouter(b)
	b.ReportAllocs()
	for b.Loop() {
		res, err := sys.Root.RequestFuture(pid, validCreate(), 5*time.Second).Result()
		if _, ok := res.(*messages.CommandAccepted); err != nil || !ok {
			b.Fatalf("%v %v", res, err)
		}
	}
}

// BenchmarkUpdateOneOrderParallel sends concurrent updates to one order, which its actor
// applies one at a time.
func BenchmarkUpdateOneOrderParallel(b *testing.B) {
	sys, pid := benchRouter(b)
	res, err := sys.Root.RequestFuture(pid, validCreate(), 5*time.Second).Result()
	if err != nil {
		b.Fatal(err)
	}
	id := res.(*messages.CommandAccepted).GetOrderId()
	amount := "1.00"
	var failed atomic.Pointer[error]
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			res, err := sys.Root.RequestFuture(pid, &messages.UpdateOrder{OrderId: id, Amount: &amount}, 5*time.Second).Result()
			if _, ok := res.(*messages.CommandAccepted); err != nil || !ok {
				err = fmt.Errorf("update: %v %v", res, err)
				failed.CompareAndSwap(nil, &err)
				return
			}
		}
	})
	if err := failed.Load(); err != nil {
		b.Fatal(*err)
	}
}
