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
	"google.golang.org/protobuf/proto"
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
	ids     []string        // event ids of the committed changes
	lat     []time.Duration // each committed op's round trip, in the caller
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

// pacing is how pace offers an op.
type pacing struct {
	rate    int           // calls/s; 0: as fast as the workers go
	d       time.Duration // how long the step runs at most
	workers int           // concurrent calls
	calls   int           // with calls > 0 the step also ends after that many calls
}

// pace calls op as p says and collects the event ids op returns and the
// round trip of each call. A step whose workers cannot keep up commits
// less than offered: the result says what was committed.
func pace(ctx context.Context, p pacing, op func() (string, error)) loadResult {
	var (
		mu  sync.Mutex
		res loadResult
		wg  sync.WaitGroup
	)
	call := func() {
		t0 := time.Now()
		id, err := op()
		lat := time.Since(t0)
		mu.Lock()
		defer mu.Unlock()
		if err != nil {
			res.errs++
			res.lastErr = err
			return
		}
		res.ids = append(res.ids, id)
		res.lat = append(res.lat, lat)
	}
	start := time.Now()
	end := start.Add(p.d)
	// more claims one call of the step: false once it is over.
	var claimed atomic.Int64
	more := func() bool {
		return time.Now().Before(end) && ctx.Err() == nil && (p.calls <= 0 || claimed.Add(1) <= int64(p.calls))
	}
	if p.rate <= 0 {
		for range p.workers {
			wg.Go(func() {
				for more() {
					call()
				}
			})
		}
	} else {
		jobs := make(chan struct{})
		for range p.workers {
			wg.Go(func() {
				for range jobs {
					call()
				}
			})
		}
		interval := time.Second / time.Duration(p.rate)
		for i := 0; ; i++ {
			at := start.Add(time.Duration(i) * interval)
			if !at.Before(end) {
				break
			}
			if wait := time.Until(at); wait > 0 {
				time.Sleep(wait)
			}
			if !more() {
				break
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
	a, err := ask[*messages.CommandAccepted](c, addr, newCreateOrder())
	if err != nil {
		return "", err
	}
	return a.GetEventId(), nil
}

func newCreateOrder() *messages.CreateOrder {
	return &messages.CreateOrder{
		CustomerId: fmt.Sprintf("bench-%d", customerSeq.Add(1)), Amount: "12.50", Currency: "EUR",
		Items: []*messages.Item{{Sku: "SKU-1", Quantity: 2}},
	}
}

// ask sends msg to the coordinator of the node at addr and returns its
// reply, which must be a T: a command's rejection is an error.
func ask[T proto.Message](c *commander, addr string, msg proto.Message) (T, error) {
	var zero T
	name := string(msg.ProtoReflect().Descriptor().Name())
	res, err := c.sys.Root.RequestFuture(actor.NewPID(addr, "coordinator"), msg, commandTimeout).Result()
	if err != nil {
		return zero, fmt.Errorf("%s: %w", name, err)
	}
	r, ok := res.(T)
	if !ok {
		return zero, fmt.Errorf("%s: reply %T %v", name, res, res)
	}
	return r, nil
}

// commitDirect returns an op writing one order and its event with store,
// as the node does for a create: the bare loop's, the naive relay's load
// and the cluster drain's backlog (scylla.Store or scylla.ShardStore).
func commitDirect(store orders.Store) func() (string, error) {
	return func() (string, error) {
		ch, err := newChange(time.Now())
		if err != nil {
			return "", err
		}
		if err := store.Commit(context.Background(), ch); err != nil {
			return "", err
		}
		return ch.Event.GetEventId(), nil
	}
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
