package orders_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/google/uuid"
	"google.golang.org/protobuf/proto"

	"github.com/outboxnode/outbox/actors/admission"
	"github.com/outboxnode/outbox/actors/orders"
	"github.com/outboxnode/outbox/actors/orders/orderstest"
	"github.com/outboxnode/outbox/internal/poll"
	"github.com/outboxnode/outbox/messages"
)

type harness struct {
	t     *testing.T
	sys   *actor.ActorSystem
	pid   *actor.PID
	store *orderstest.Store
}

func start(t *testing.T, cfg orders.Config) *harness {
	t.Helper()
	sys := actor.NewActorSystem(actor.WithLoggerFactory(func(*actor.ActorSystem) *slog.Logger {
		return slog.New(slog.DiscardHandler)
	}))
	store := orderstest.NewStore()
	props, err := orders.Props(store, cfg)
	if err != nil {
		t.Fatal(err)
	}
	pid, err := sys.Root.SpawnNamed(props, "orders")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = sys.Root.PoisonFuture(pid).Wait()
		sys.Shutdown()
	})
	return &harness{t: t, sys: sys, pid: pid, store: store}
}

func (h *harness) ask(msg proto.Message) any {
	h.t.Helper()
	res, err := h.sys.Root.RequestFuture(h.pid, msg, 5*time.Second).Result()
	if err != nil {
		h.t.Fatalf("request %T: %v", msg, err)
	}
	return res
}

func (h *harness) accept(msg proto.Message) *messages.CommandAccepted {
	h.t.Helper()
	res := h.ask(msg)
	acc, ok := res.(*messages.CommandAccepted)
	if !ok {
		h.t.Fatalf("%T %v: got %T %v, want CommandAccepted", msg, msg, res, res)
	}
	return acc
}

func (h *harness) rejected(msg proto.Message, code messages.RejectCode, reason string) {
	h.t.Helper()
	res := h.ask(msg)
	rej, ok := res.(*messages.CommandRejected)
	if !ok {
		h.t.Fatalf("%v: got %T %v, want CommandRejected", msg, res, res)
	}
	if rej.GetCode() != code || !strings.Contains(rej.GetReason(), reason) {
		h.t.Fatalf("%v: got %s %q, want %s containing %q", msg, rej.GetCode(), rej.GetReason(), code, reason)
	}
}

func (h *harness) view(id string) *messages.OrderView {
	h.t.Helper()
	res := h.ask(&messages.GetOrder{OrderId: id})
	v, ok := res.(*messages.OrderView)
	if !ok {
		h.t.Fatalf("get %s: got %T %v", id, res, res)
	}
	return v
}

func validCreate() *messages.CreateOrder {
	return &messages.CreateOrder{
		CustomerId: "c-1", Amount: "12.50", Currency: "EUR",
		Items: []*messages.Item{{Sku: "B-2", Quantity: 1}, {Sku: "A-1", Quantity: 3}},
	}
}

func TestLifecycleBumpsVersionsAndEmitsEvents(t *testing.T) {
	h := start(t, orders.Config{})
	created := h.accept(validCreate())
	if _, err := uuid.Parse(created.GetOrderId()); err != nil || created.GetVersion() != 1 {
		t.Fatalf("create: %v", created)
	}
	id := created.GetOrderId()
	amount := "99.9"
	h.accept(&messages.UpdateOrder{OrderId: id, Amount: &amount})
	h.accept(&messages.UpdateOrder{OrderId: id, Items: []*messages.Item{{Sku: "Z", Quantity: 7}}})
	last := h.accept(&messages.CancelOrder{OrderId: id, Reason: "changed mind"})
	if last.GetVersion() != 4 {
		t.Fatalf("cancel version = %d, want 4", last.GetVersion())
	}

	v := h.view(id)
	if v.GetStatus() != messages.OrderStatus_ORDER_STATUS_CANCELLED || v.GetVersion() != 4 ||
		v.GetTotalCents() != 9990 || v.GetAmount() != "99.90" || v.GetCurrency() != "EUR" ||
		len(v.GetItems()) != 1 || v.GetItems()[0].GetSku() != "Z" || v.GetCustomerId() != "c-1" {
		t.Fatalf("view = %v", v)
	}

	h.rejected(&messages.UpdateOrder{OrderId: id, Amount: &amount}, messages.RejectCode_REJECT_CODE_INVALID_TRANSITION, "cancelled")
	h.rejected(&messages.CancelOrder{OrderId: id}, messages.RejectCode_REJECT_CODE_INVALID_TRANSITION, "cancelled")

	changes := h.store.Changes()
	wantTypes := []string{orders.EventOrderCreated, orders.EventOrderUpdated, orders.EventOrderUpdated, orders.EventOrderCancelled}
	if len(changes) != len(wantTypes) {
		t.Fatalf("%d commits, want %d", len(changes), len(wantTypes))
	}
	seen := map[string]bool{}
	for i, c := range changes {
		ev := c.Event
		evID, err := uuid.Parse(ev.GetEventId())
		if err != nil || evID.Version() != 1 || seen[ev.GetEventId()] {
			t.Fatalf("event %d id %q: want a new timeuuid", i, ev.GetEventId())
		}
		seen[ev.GetEventId()] = true
		if ev.GetEventType() != wantTypes[i] || ev.GetAggregateVersion() != int32(i+1) ||
			ev.GetAggregateId() != id || ev.GetAggregateType() != orders.AggregateType ||
			c.Order.Version != int32(i+1) || ev.GetOccurredAt() == nil {
			t.Fatalf("change %d = %+v / %v", i, c.Order, ev)
		}
		var doc map[string]any
		if err := json.Unmarshal(ev.GetPayload(), &doc); err != nil {
			t.Fatalf("payload %d: %v", i, err)
		}
		if doc["version"] != float64(i+1) || doc["order_id"] != id || doc["status"] != string(c.Order.Status) {
			t.Fatalf("payload %d = %s", i, ev.GetPayload())
		}
	}
	if got := string(changes[3].Event.GetPayload()); !strings.Contains(got, `"cancel_reason":"changed mind"`) {
		t.Fatalf("cancel payload lacks the reason: %s", got)
	}
	if first, last := changes[0].Order, changes[3].Order; first.CreatedAt.IsZero() || !first.CreatedAt.Equal(first.UpdatedAt) ||
		!last.CreatedAt.Equal(first.CreatedAt) || last.UpdatedAt.Before(first.UpdatedAt) {
		t.Fatalf("timestamps: created %v/%v, cancelled %v/%v", first.CreatedAt, first.UpdatedAt, last.CreatedAt, last.UpdatedAt)
	}
	if items := changes[0].Order.Items; items[0].SKU != "A-1" || items[1].SKU != "B-2" {
		t.Fatalf("items not sorted by sku: %v", items)
	}
}

func TestRejectsBadCommandsWithoutTouchingTheStore(t *testing.T) {
	h := start(t, orders.Config{MaxItems: 2})
	neg, many, text, empty := "-1.00", "1.234", "12,50", ""
	id := uuid.NewString()
	withCreate := func(f func(*messages.CreateOrder)) *messages.CreateOrder {
		c := validCreate()
		f(c)
		return c
	}
	tests := []struct {
		name   string
		msg    proto.Message
		reason string
	}{
		{"empty customer", withCreate(func(c *messages.CreateOrder) { c.CustomerId = "  " }), "customer_id: required"},
		{"long customer", withCreate(func(c *messages.CreateOrder) { c.CustomerId = strings.Repeat("x", 300) }), "customer_id: longer"},
		{"negative amount", withCreate(func(c *messages.CreateOrder) { c.Amount = neg }), "negative"},
		{"non-numeric amount", withCreate(func(c *messages.CreateOrder) { c.Amount = text }), "not a decimal"},
		{"missing amount", withCreate(func(c *messages.CreateOrder) { c.Amount = "" }), "amount: required"},
		{"too many decimals", withCreate(func(c *messages.CreateOrder) { c.Amount = many }), "more than two decimals"},
		{"huge amount", withCreate(func(c *messages.CreateOrder) { c.Amount = "99999999999999999999" }), "larger than"},
		{"amount over max", withCreate(func(c *messages.CreateOrder) { c.Amount = "100000001" }), "larger than"},
		{"bad currency", withCreate(func(c *messages.CreateOrder) { c.Currency = "EURO" }), "currency"},
		{"currency digits", withCreate(func(c *messages.CreateOrder) { c.Currency = "E1R" }), "currency"},
		{"lower-case currency", withCreate(func(c *messages.CreateOrder) { c.Currency = "eur" }), "three upper-case letters"},
		{"padded currency", withCreate(func(c *messages.CreateOrder) { c.Currency = " EUR" }), "three upper-case letters"},
		{"missing currency", withCreate(func(c *messages.CreateOrder) { c.Currency = "" }), "currency: required"},
		{"no such currency", withCreate(func(c *messages.CreateOrder) { c.Currency = "ABC" }), "not an active ISO 4217"},
		{"withdrawn currency", withCreate(func(c *messages.CreateOrder) { c.Currency = "HRK" }), "not an active ISO 4217"},
		{"test currency", withCreate(func(c *messages.CreateOrder) { c.Currency = "XTS" }), "not an active ISO 4217"},
		{"customer with NUL", withCreate(func(c *messages.CreateOrder) { c.CustomerId = "bob\x00" }), "U+0000"},
		{"customer with newline", withCreate(func(c *messages.CreateOrder) { c.CustomerId = "bob\nINFO forged" }), "U+000A at byte 3"},
		{"customer with DEL", withCreate(func(c *messages.CreateOrder) { c.CustomerId = "bob\x7f" }), "U+007F"},
		{"customer with C1 control", withCreate(func(c *messages.CreateOrder) { c.CustomerId = "bob\u0085" }), "U+0085"},
		{"customer with bidi override", withCreate(func(c *messages.CreateOrder) { c.CustomerId = "bob\u202Egnp.exe" }), "U+202E"},
		{"customer with bidi embedding", withCreate(func(c *messages.CreateOrder) { c.CustomerId = "\u202Abob" }), "U+202A"},
		{"customer with bidi isolate", withCreate(func(c *messages.CreateOrder) { c.CustomerId = "bob\u2066x\u2069" }), "U+2066"},
		{"customer with pop isolate", withCreate(func(c *messages.CreateOrder) { c.CustomerId = "bob\u2069" }), "U+2069"},
		{"customer with zero-width space", withCreate(func(c *messages.CreateOrder) { c.CustomerId = "b\u200Bob" }), "U+200B"},
		{"customer with BOM", withCreate(func(c *messages.CreateOrder) { c.CustomerId = "\uFEFFbob" }), "U+FEFF"},
		{"customer with soft hyphen", withCreate(func(c *messages.CreateOrder) { c.CustomerId = "bo\u00ADb" }), "U+00AD"},
		{"customer invalid utf-8", withCreate(func(c *messages.CreateOrder) { c.CustomerId = "bob\xff" }), "not valid UTF-8"},
		{"too many items", withCreate(func(c *messages.CreateOrder) {
			c.Items = []*messages.Item{{Sku: "a", Quantity: 1}, {Sku: "b", Quantity: 1}, {Sku: "c", Quantity: 1}}
		}), "at most 2"},
		{"bad sku", withCreate(func(c *messages.CreateOrder) { c.Items = []*messages.Item{{Sku: "a b", Quantity: 1}} }), "sku"},
		{"empty sku", withCreate(func(c *messages.CreateOrder) { c.Items = []*messages.Item{{Sku: "", Quantity: 1}} }), "sku"},
		{"duplicate sku", withCreate(func(c *messages.CreateOrder) {
			c.Items = []*messages.Item{{Sku: "a", Quantity: 1}, {Sku: "a", Quantity: 2}}
		}), "twice"},
		{"zero quantity", withCreate(func(c *messages.CreateOrder) { c.Items = []*messages.Item{{Sku: "a"}} }), "quantity"},
		{"quantity over max", withCreate(func(c *messages.CreateOrder) { c.Items = []*messages.Item{{Sku: "a", Quantity: 10_001}} }), "quantity"},
		{"update without id", &messages.UpdateOrder{Amount: &neg}, "order_id: required"},
		{"update malformed id", &messages.UpdateOrder{OrderId: "order-1", Amount: &neg}, "not a uuid"},
		{"update nothing", &messages.UpdateOrder{OrderId: id}, "nothing to update"},
		{"update negative", &messages.UpdateOrder{OrderId: id, Amount: &neg}, "negative"},
		{"update empty amount", &messages.UpdateOrder{OrderId: id, Amount: &empty}, "amount: required"},
		{"update bad items", &messages.UpdateOrder{OrderId: id, Items: []*messages.Item{{Sku: "a", Quantity: -1}}}, "quantity"},
		{"cancel malformed id", &messages.CancelOrder{OrderId: "x"}, "not a uuid"},
		{"cancel nil id", &messages.CancelOrder{OrderId: uuid.Nil.String()}, "must not be the nil uuid"},
		{"cancel long reason", &messages.CancelOrder{OrderId: id, Reason: strings.Repeat("r", 2000)}, "reason"},
		{"get malformed id", &messages.GetOrder{OrderId: "{" + id + "}"}, "not a uuid"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h.t = t
			h.rejected(tc.msg, messages.RejectCode_REJECT_CODE_INVALID_ARGUMENT, tc.reason)
		})
	}
	h.t = t
	if loads, commits := h.store.Loads(), len(h.store.Changes()); loads != 0 || commits != 0 {
		t.Fatalf("rejected commands touched the store: %d loads, %d commits", loads, commits)
	}
}

func TestUnknownOrderIsNotFound(t *testing.T) {
	h := start(t, orders.Config{})
	id := uuid.NewString()
	amount := "1"
	h.rejected(&messages.UpdateOrder{OrderId: id, Amount: &amount}, messages.RejectCode_REJECT_CODE_NOT_FOUND, id)
	h.rejected(&messages.CancelOrder{OrderId: id}, messages.RejectCode_REJECT_CODE_NOT_FOUND, id)
	h.rejected(&messages.GetOrder{OrderId: id}, messages.RejectCode_REJECT_CODE_NOT_FOUND, id)
	if commits := len(h.store.Changes()); commits != 0 {
		t.Fatalf("%d commits for an unknown order", commits)
	}
}

func TestCommitFailureRejectsAndKeepsState(t *testing.T) {
	h := start(t, orders.Config{})
	id := h.accept(validCreate()).GetOrderId()

	h.store.FailWith(errors.New("no host available"))
	amount := "5.00"
	h.rejected(&messages.UpdateOrder{OrderId: id, Amount: &amount}, messages.RejectCode_REJECT_CODE_STORE_UNAVAILABLE, "no host available")
	h.rejected(&messages.CreateOrder{CustomerId: "c", Amount: "1", Currency: "USD"}, messages.RejectCode_REJECT_CODE_STORE_UNAVAILABLE, "no host available")
	h.store.FailWith(nil)

	loadsBefore := h.store.Loads()
	if v := h.view(id); v.GetVersion() != 1 || v.GetAmount() != "12.50" || v.GetStatus() != messages.OrderStatus_ORDER_STATUS_CREATED {
		t.Fatalf("after a failed commit: %v", v)
	}
	if loads := h.store.Loads(); loads != loadsBefore+1 {
		t.Fatalf("the order was not reloaded after a failed commit: %d loads, want %d", loads, loadsBefore+1)
	}
	if acc := h.accept(&messages.UpdateOrder{OrderId: id, Amount: &amount}); acc.GetVersion() != 2 {
		t.Fatalf("version after retry = %d, want 2", acc.GetVersion())
	}
	if commits := len(h.store.Changes()); commits != 2 {
		t.Fatalf("%d commits, want 2", commits)
	}
}

func TestIdleOrderIsPassivatedAndReloaded(t *testing.T) {
	h := start(t, orders.Config{IdleTimeout: 20 * time.Millisecond})
	id := h.accept(validCreate()).GetOrderId()
	child := h.pid.Id + "/" + id
	poll.Eventually(t, 5*time.Second, poll.True("order actor passivated", func() bool {
		_, alive := h.sys.ProcessRegistry.GetLocal(child)
		return !alive
	}))
	if loads := h.store.Loads(); loads != 0 {
		t.Fatalf("a created order was loaded %d times", loads)
	}
	if v := h.view(id); v.GetVersion() != 1 || v.GetCustomerId() != "c-1" {
		t.Fatalf("reloaded view = %v", v)
	}
	if loads := h.store.Loads(); loads != 1 {
		t.Fatalf("%d loads after passivation, want 1", loads)
	}
}

// Concurrent commands for one order, racing with passivation, are applied one at a time:
// every version from 1 to n is committed exactly once.
func TestConcurrentCommandsAreSerialisedAcrossPassivation(t *testing.T) {
	h := start(t, orders.Config{IdleTimeout: time.Millisecond})
	id := h.accept(validCreate()).GetOrderId()
	const workers, each = 8, 10
	var wg sync.WaitGroup
	errs := make(chan error, workers*each)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				amount := fmt.Sprintf("%d.%02d", w, i)
				res, err := h.sys.Root.RequestFuture(h.pid, &messages.UpdateOrder{OrderId: id, Amount: &amount}, 5*time.Second).Result()
				if _, ok := res.(*messages.CommandAccepted); err != nil || !ok {
					errs <- fmt.Errorf("update %s: %v %v", amount, res, err)
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	changes := h.store.Changes()
	if len(changes) != 1+workers*each {
		t.Fatalf("%d commits, want %d", len(changes), 1+workers*each)
	}
	for i, c := range changes {
		if c.Order.Version != int32(i+1) {
			t.Fatalf("commit %d has version %d", i, c.Order.Version)
		}
	}
}

func TestLoadFailureRejectsAndRetriesLater(t *testing.T) {
	h := start(t, orders.Config{})
	id := uuid.NewString()
	h.store.FailWith(errors.New("timeout"))
	h.rejected(&messages.GetOrder{OrderId: id}, messages.RejectCode_REJECT_CODE_STORE_UNAVAILABLE, "timeout")
	h.store.FailWith(nil)
	h.rejected(&messages.GetOrder{OrderId: id}, messages.RejectCode_REJECT_CODE_NOT_FOUND, id)
	if loads := h.store.Loads(); loads != 2 {
		t.Fatalf("%d loads, want 2 (a failed load is retried)", loads)
	}
}

// panickingStore panics in the next n commits, like a driver bug would.
type panickingStore struct {
	*orderstest.Store
	panics atomic.Int32
}

func (s *panickingStore) Commit(ctx context.Context, c orders.Change) error {
	if s.panics.Add(-1) >= 0 {
		panic("driver bug")
	}
	return s.Store.Commit(ctx, c)
}

func TestPanickingOrderIsRestartedAndReloaded(t *testing.T) {
	sys := actor.NewActorSystem(actor.WithLoggerFactory(func(*actor.ActorSystem) *slog.Logger {
		return slog.New(slog.DiscardHandler)
	}))
	defer sys.Shutdown()
	store := &panickingStore{Store: orderstest.NewStore()}
	props, err := orders.Props(store, orders.Config{})
	if err != nil {
		t.Fatal(err)
	}
	pid := sys.Root.Spawn(props)
	defer func() { _ = sys.Root.PoisonFuture(pid).Wait() }()
	h := &harness{t: t, sys: sys, pid: pid, store: store.Store}

	id := h.accept(validCreate()).GetOrderId()
	store.panics.Store(1)
	amount := "2.00"
	// The failing message is dropped by protoactor: its requester times out.
	if _, err := sys.Root.RequestFuture(pid, &messages.UpdateOrder{OrderId: id, Amount: &amount}, 300*time.Millisecond).Result(); !errors.Is(err, actor.ErrTimeout) {
		t.Fatalf("update during the panic: %v", err)
	}
	if acc := h.accept(&messages.UpdateOrder{OrderId: id, Amount: &amount}); acc.GetVersion() != 2 {
		t.Fatalf("version after the restart = %d, want 2", acc.GetVersion())
	}
	if store.Loads() != 1 {
		t.Fatalf("%d loads, want 1 (the restarted actor reloads)", store.Loads())
	}
}

// TestCustomerIDsThatAreAccepted keeps the control-character check from
// refusing ordinary non-ASCII ids.
func TestCustomerIDsThatAreAccepted(t *testing.T) {
	h := start(t, orders.Config{})
	for _, id := range []string{"bob", "Zoë Ångström", "客户-42", "user@example.com", "a b", "مرحبا"} {
		c := validCreate()
		c.CustomerId = id
		h.accept(c)
	}
}

// TestRejectionsDoNotEchoUnboundedInput sends huge bad values and checks
// each reason stays short, cut with "…" and the input's length.
func TestRejectionsDoNotEchoUnboundedInput(t *testing.T) {
	h := start(t, orders.Config{})
	huge := strings.Repeat("9x", 50_000)
	for _, msg := range []proto.Message{
		&messages.CreateOrder{CustomerId: "c", Amount: huge, Currency: "EUR"},
		&messages.CreateOrder{CustomerId: "c", Amount: "1", Currency: huge},
		&messages.CreateOrder{CustomerId: "c", Amount: "1", Currency: "EUR", Items: []*messages.Item{{Sku: huge, Quantity: 1}}},
		&messages.UpdateOrder{OrderId: huge, Amount: proto.String("1")},
		&messages.GetOrder{OrderId: huge},
		&messages.CancelOrder{OrderId: uuid.NewString(), Reason: huge},
		&messages.CreateOrder{CustomerId: strings.Repeat("é", 100) + "\u202E", Amount: "1", Currency: "EUR"},
	} {
		res := h.ask(msg)
		rej, ok := res.(*messages.CommandRejected)
		if !ok || rej.GetCode() != messages.RejectCode_REJECT_CODE_INVALID_ARGUMENT {
			t.Fatalf("%T: got %v, want INVALID_ARGUMENT", msg, res)
		}
		if len(rej.GetReason()) > 256 {
			t.Errorf("%T: reason of %d bytes: %.300s", msg, len(rej.GetReason()), rej.GetReason())
		}
	}
	rej := h.ask(&messages.GetOrder{OrderId: huge}).(*messages.CommandRejected)
	if want := fmt.Sprintf("… (%d bytes)", len(huge)); !strings.Contains(rej.GetReason(), want) {
		t.Errorf("reason %q lacks %q", rej.GetReason(), want)
	}
}

// blockingStore holds every Commit until release is closed, once block is set.
type blockingStore struct {
	*orderstest.Store
	block   atomic.Bool
	entered chan struct{}
	release chan struct{}
}

func (s *blockingStore) Commit(ctx context.Context, c orders.Change) error {
	if s.block.Load() {
		s.entered <- struct{}{}
		<-s.release
	}
	return s.Store.Commit(ctx, c)
}

// TestClosedGateRefusesAndDrainAnswersQueuedCommands closes the admission
// gate while one command of an order is committing and another waits
// behind it: the one committing is accepted, the queued one and every new
// command are refused with SHUTTING_DOWN, nothing new is spawned or
// committed, and Drain is answered once the order actor has stopped.
func TestClosedGateRefusesAndDrainAnswersQueuedCommands(t *testing.T) {
	gate := &admission.Gate{}
	store := &blockingStore{Store: orderstest.NewStore(), entered: make(chan struct{}, 1), release: make(chan struct{})}
	sys := actor.NewActorSystem(actor.WithLoggerFactory(func(*actor.ActorSystem) *slog.Logger { return slog.New(slog.DiscardHandler) }))
	props, err := orders.Props(store, orders.Config{Gate: gate})
	if err != nil {
		t.Fatal(err)
	}
	pid, err := sys.Root.SpawnNamed(props, "orders")
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{t: t, sys: sys, pid: pid, store: store.Store}
	id := h.accept(validCreate()).GetOrderId()

	store.block.Store(true)
	committing := sys.Root.RequestFuture(pid, &messages.UpdateOrder{OrderId: id, Amount: proto.String("2.00")}, 10*time.Second)
	<-store.entered
	queued := sys.Root.RequestFuture(pid, &messages.UpdateOrder{OrderId: id, Amount: proto.String("3.00")}, 10*time.Second)
	// The router has forwarded the queued update once it answers a later request.
	h.rejected(&messages.GetOrder{OrderId: "x"}, messages.RejectCode_REJECT_CODE_INVALID_ARGUMENT, "uuid")

	gate.Close()
	drained := sys.Root.RequestFuture(pid, orders.Drain{}, 10*time.Second)
	h.rejected(validCreate(), messages.RejectCode_REJECT_CODE_SHUTTING_DOWN, "shutting down")
	h.rejected(&messages.GetOrder{OrderId: id}, messages.RejectCode_REJECT_CODE_SHUTTING_DOWN, "shutting down")
	close(store.release)

	if res, err := committing.Result(); err != nil {
		t.Fatalf("update in flight: %v", err)
	} else if _, ok := res.(*messages.CommandAccepted); !ok {
		t.Fatalf("update in flight: %v, want accepted", res)
	}
	if res, err := queued.Result(); err != nil {
		t.Fatalf("queued update: %v", err)
	} else if rej, ok := res.(*messages.CommandRejected); !ok || rej.GetCode() != messages.RejectCode_REJECT_CODE_SHUTTING_DOWN {
		t.Fatalf("queued update: %v, want SHUTTING_DOWN", res)
	}
	if res, err := drained.Result(); err != nil {
		t.Fatalf("drain: %v", err)
	} else if _, ok := res.(orders.Drained); !ok {
		t.Fatalf("drain answered %T", res)
	}
	if n := len(store.Changes()); n != 2 {
		t.Fatalf("%d commits, want 2 (the create and the update in flight)", n)
	}
	if err := sys.Root.PoisonFuture(pid).Wait(); err != nil {
		t.Fatalf("stop after drain: %v", err)
	}
}
