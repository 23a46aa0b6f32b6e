package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/asynkron/protoactor-go/remote"
	"github.com/google/uuid"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/outboxnode/outbox/actors/orders"
	"github.com/outboxnode/outbox/messages"
)

const (
	// commandWorkers send commands concurrently: enough to hold 4,000/s
	// while each waits for its batch to commit.
	commandWorkers = 256
	// storeWorkers write batches concurrently in the bare store loop.
	storeWorkers = 64
	// commandTimeout bounds one command round trip.
	commandTimeout = 10 * time.Second
)

// loadResult is what one load step committed.
type loadResult struct {
	ids     []string // event ids of the committed changes
	elapsed time.Duration
	errs    int64
	lastErr error
}

// rate is changes committed per second.
func (r loadResult) rate() float64 {
	if r.elapsed <= 0 {
		return 0
	}
	return float64(len(r.ids)) / r.elapsed.Seconds()
}

// pace calls op at rate calls/s (0: as fast as workers go) for d and
// collects the event ids op returns. A step whose workers cannot keep up
// commits less than offered: the result says what was committed.
func pace(ctx context.Context, rate int, d time.Duration, workers int, op func() (string, error)) loadResult {
	var (
		mu  sync.Mutex
		res loadResult
		wg  sync.WaitGroup
	)
	record := func(id string, err error) {
		mu.Lock()
		defer mu.Unlock()
		if err != nil {
			res.errs++
			res.lastErr = err
			return
		}
		res.ids = append(res.ids, id)
	}
	start := time.Now()
	end := start.Add(d)
	if rate <= 0 {
		for range workers {
			wg.Go(func() {
				for time.Now().Before(end) && ctx.Err() == nil {
					record(op())
				}
			})
		}
	} else {
		jobs := make(chan struct{})
		for range workers {
			wg.Go(func() {
				for range jobs {
					record(op())
				}
			})
		}
		interval := time.Second / time.Duration(rate)
		for i := 0; ctx.Err() == nil; i++ {
			at := start.Add(time.Duration(i) * interval)
			if !at.Before(end) {
				break
			}
			if wait := time.Until(at); wait > 0 {
				time.Sleep(wait)
			}
			jobs <- struct{}{}
		}
		close(jobs)
	}
	wg.Wait()
	res.elapsed = time.Since(start)
	return res
}

// commander sends order commands to a node's coordinator over Proto.Actor
// remote, as outboxctl does. There is one per process (a remote replaces
// the gRPC logger globally).
type commander struct {
	sys *actor.ActorSystem
}

var (
	commanderOnce sync.Once
	theCommander  *commander
)

func newCommander() *commander {
	commanderOnce.Do(func() {
		quiet := slog.New(slog.DiscardHandler)
		sys := actor.NewActorSystem(actor.WithLoggerFactory(func(*actor.ActorSystem) *slog.Logger { return quiet }))
		remote.NewRemote(sys, remote.Configure("127.0.0.1", 0)).Start()
		theCommander = &commander{sys: sys}
	})
	return theCommander
}

var customerSeq atomic.Int64

// create sends one CreateOrder to the node at addr and returns its event id.
func (c *commander) create(addr string) (string, error) {
	msg := &messages.CreateOrder{
		CustomerId: fmt.Sprintf("bench-%d", customerSeq.Add(1)), Amount: "12.50", Currency: "EUR",
		Items: []*messages.Item{{Sku: "SKU-1", Quantity: 2}},
	}
	res, err := c.sys.Root.RequestFuture(actor.NewPID(addr, "coordinator"), msg, commandTimeout).Result()
	if err != nil {
		return "", fmt.Errorf("create order: %w", err)
	}
	a, ok := res.(*messages.CommandAccepted)
	if !ok {
		return "", fmt.Errorf("create order: reply %T %v", res, res)
	}
	return a.GetEventId(), nil
}

// newChange is a created order and its OrderCreated event as the node
// writes them for create (commands above): the same two rows, columns and
// payload fields, so that the bare loops write and send what the node does.
func newChange(at time.Time) (orders.Change, error) {
	eventID, err := uuid.NewUUID()
	if err != nil {
		return orders.Change{}, fmt.Errorf("event id: %w", err)
	}
	s := orders.State{
		OrderID: uuid.New(), CustomerID: fmt.Sprintf("bench-%d", customerSeq.Add(1)), Status: orders.StatusCreated,
		Items: []orders.Item{{SKU: "SKU-1", Quantity: 2}}, TotalCents: 1250, Currency: "EUR", Version: 1,
		CreatedAt: at, UpdatedAt: at,
	}
	doc, err := json.Marshal(map[string]any{
		"order_id": s.OrderID.String(), "customer_id": s.CustomerID, "status": s.Status,
		"items": []map[string]any{{"sku": "SKU-1", "quantity": 2}}, "total_cents": s.TotalCents, "amount": "12.50",
		"currency": s.Currency, "version": s.Version, "created_at": at, "updated_at": at,
	})
	if err != nil {
		return orders.Change{}, fmt.Errorf("payload: %w", err)
	}
	return orders.Change{Order: s, Event: &messages.OutboxEvent{
		EventId: eventID.String(), AggregateType: orders.AggregateType, AggregateId: s.OrderID.String(),
		AggregateVersion: 1, EventType: orders.EventOrderCreated, Payload: doc,
		Headers: map[string]string{"content_type": "application/json"}, OccurredAt: timestamppb.New(at),
	}}, nil
}
