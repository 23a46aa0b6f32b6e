package orders_test

import (
	"context"
	"fmt"
	"log/slog"
	"sync/atomic"
	"testing"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/outboxnode/outbox/actors/orders"
	"github.com/outboxnode/outbox/actors/orders/orderstest"
	"github.com/outboxnode/outbox/messages"
)

// racingStore loses the next commit to another activation of the order: that
// activation's change (the same version, another amount) is stored instead
// and Commit returns ErrConflict, like a conditional batch that did not apply.
type racingStore struct {
	*orderstest.Store
	lose atomic.Bool
}

func (s *racingStore) Commit(ctx context.Context, c orders.Change) error {
	if !s.lose.CompareAndSwap(true, false) {
		return s.Store.Commit(ctx, c)
	}
	other := c
	other.Order.TotalCents = 4200
	if err := s.Store.Commit(ctx, other); err != nil {
		return err
	}
	return fmt.Errorf("commit order %s v%d: %w: the store has v%d", c.Order.OrderID, c.Order.Version, orders.ErrConflict, other.Order.Version)
}

func TestCommitConflictRejectsAndReloads(t *testing.T) {
	sys := actor.NewActorSystem(actor.WithLoggerFactory(func(*actor.ActorSystem) *slog.Logger {
		return slog.New(slog.DiscardHandler)
	}))
	defer sys.Shutdown()
	store := &racingStore{Store: orderstest.NewStore()}
	props, err := orders.Props(store, orders.Config{})
	if err != nil {
		t.Fatal(err)
	}
	pid := sys.Root.Spawn(props)
	defer func() { _ = sys.Root.PoisonFuture(pid).Wait() }()
	h := &harness{t: t, sys: sys, pid: pid, store: store.Store}

	id := h.accept(validCreate()).GetOrderId()
	store.lose.Store(true)
	amount := "5.00"
	h.rejected(&messages.UpdateOrder{OrderId: id, Amount: &amount}, messages.RejectCode_REJECT_CODE_CONFLICT, "the store has v2")

	// The next command reads the winner's state instead of the actor's stale one.
	if v := h.view(id); v.GetVersion() != 2 || v.GetAmount() != "42.00" {
		t.Fatalf("after a conflict: %v, want the other activation's v2 (42.00)", v)
	}
	if loads := store.Loads(); loads != 1 {
		t.Fatalf("%d loads after a conflict, want 1", loads)
	}
	if acc := h.accept(&messages.UpdateOrder{OrderId: id, Amount: &amount}); acc.GetVersion() != 3 {
		t.Fatalf("version of the retry = %d, want 3", acc.GetVersion())
	}
}
