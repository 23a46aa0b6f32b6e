package shardrelay_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/outboxnode/outbox/actors/cdcstream"
	"github.com/outboxnode/outbox/infra/shardrelay"
	"github.com/outboxnode/outbox/internal/poll"
	"github.com/outboxnode/outbox/messages"
)

// fakeLease is valid until lost.
type fakeLease struct {
	shard int
	lost  atomic.Bool
}

func (l *fakeLease) Valid(time.Time) bool { return !l.lost.Load() }

// fakeLeases records what is acquired, renewed and released.
type fakeLeases struct {
	mu       sync.Mutex
	held     map[int]*fakeLease
	released []int
	refuse   map[int]bool // shards another node holds
}

func newLeases() *fakeLeases {
	return &fakeLeases{held: map[int]*fakeLease{}, refuse: map[int]bool{}}
}

func (f *fakeLeases) Acquire(_ context.Context, shard int) (shardrelay.Lease, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.refuse[shard] {
		return nil, fmt.Errorf("shard %d held by another node", shard)
	}
	l := &fakeLease{shard: shard}
	f.held[shard] = l
	return l, nil
}

func (f *fakeLeases) Renew(_ context.Context, l shardrelay.Lease, _ time.Duration) error {
	if !l.Valid(time.Now()) {
		return errors.New("lost")
	}
	return nil
}

func (f *fakeLeases) Release(_ context.Context, l shardrelay.Lease) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.released = append(f.released, l.(*fakeLease).shard)
	return nil
}

func (f *fakeLeases) releasedShards() []int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Sorted(slices.Values(f.released))
}

// fakeReader delivers one event per shard at start, then waits; the
// guard is checked before delivering, as cdc.Source does.
type fakeReader struct {
	shard   int
	guard   func() error
	runs    atomic.Int32
	flushes atomic.Int32
	running atomic.Bool
}

func (r *fakeReader) Run(ctx context.Context, deliver func(cdcstream.Delivery)) error {
	r.runs.Add(1)
	r.running.Store(true)
	defer r.running.Store(false)
	if err := r.guard(); err != nil {
		return err
	}
	deliver(cdcstream.Delivery{Stream: "s1", Request: &messages.PublishEvent{Event: &messages.OutboxEvent{EventId: fmt.Sprint(r.shard)}}, Ack: func() {}})
	<-ctx.Done()
	return nil
}

func (r *fakeReader) Flush(context.Context) error { r.flushes.Add(1); return nil }
func (r *fakeReader) Lags(time.Time) map[string]time.Duration {
	return map[string]time.Duration{"s1": time.Duration(r.shard) * time.Second}
}
func (r *fakeReader) ReadErr() error { return nil }

// fakeMetrics records the per-shard figures.
type fakeMetrics struct {
	mu        sync.Mutex
	held      map[int]bool
	lag       map[int]time.Duration
	processed map[int]int
}

func (m *fakeMetrics) ShardHeld(shard int, held bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.held[shard] = held
}

func (m *fakeMetrics) ShardLag(shard int, lag time.Duration) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.lag[shard] = lag
}

func (m *fakeMetrics) ShardEventProcessed(shard int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.processed[shard]++
}

func (m *fakeMetrics) of(shard int) (held bool, lag time.Duration, processed int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.held[shard], m.lag[shard], m.processed[shard]
}

type harness struct {
	metrics *fakeMetrics
	leases  *fakeLeases
	src     *shardrelay.Source
	place   atomic.Pointer[[]int]
	mu      sync.Mutex
	readers map[int]*fakeReader
	got     []cdcstream.Delivery
	cancel  context.CancelFunc
	errC    chan error
}

func newHarness(t *testing.T, placed ...int) *harness {
	t.Helper()
	h := &harness{leases: newLeases(), readers: map[int]*fakeReader{}, errC: make(chan error, 1),
		metrics: &fakeMetrics{held: map[int]bool{}, lag: map[int]time.Duration{}, processed: map[int]int{}}}
	h.setPlacement(placed...)
	src, err := shardrelay.New(shardrelay.Config{RenewInterval: 10 * time.Millisecond, RetryDelay: 10 * time.Millisecond, HandoverTimeout: 5 * time.Second, Metrics: h.metrics},
		h.leases, func() []int { return *h.place.Load() },
		func(shard int, _ shardrelay.Lease, guard func() error) (shardrelay.Reader, error) {
			r := &fakeReader{shard: shard, guard: guard}
			h.mu.Lock()
			h.readers[shard] = r
			h.mu.Unlock()
			return r, nil
		}, nil)
	if err != nil {
		t.Fatal(err)
	}
	h.src = src
	ctx, cancel := context.WithCancel(context.Background())
	h.cancel = cancel
	go func() { h.errC <- src.Run(ctx, h.deliver) }()
	t.Cleanup(cancel)
	return h
}

func (h *harness) setPlacement(shards ...int) { h.place.Store(&shards) }

func (h *harness) deliver(d cdcstream.Delivery) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.got = append(h.got, d)
}

func (h *harness) deliveries() []cdcstream.Delivery {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.got)
}

func (h *harness) reader(shard int) *fakeReader {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.readers[shard]
}

func (h *harness) stop(t *testing.T) {
	t.Helper()
	h.cancel()
	select {
	case err := <-h.errC:
		if err != nil {
			t.Fatalf("run: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("source did not stop")
	}
}

func owned(src *shardrelay.Source, want ...int) func() error {
	return poll.True(fmt.Sprintf("owns %v", want), func() bool { return slices.Equal(src.Owned(), want) })
}

func TestReadsPlacedShardsUnderLease(t *testing.T) {
	h := newHarness(t)
	h.leases.mu.Lock()
	h.leases.refuse[2] = true // held by another node until it lets go
	h.leases.mu.Unlock()
	h.setPlacement(0, 2)
	poll.Eventually(t, 10*time.Second, owned(h.src, 0))
	h.leases.mu.Lock()
	delete(h.leases.refuse, 2)
	h.leases.mu.Unlock()
	poll.Eventually(t, 10*time.Second, owned(h.src, 0, 2))
	poll.Eventually(t, 10*time.Second, poll.True("one delivery per shard", func() bool { return len(h.deliveries()) == 2 }))
	var streams []string
	for _, d := range h.deliveries() {
		streams = append(streams, d.Stream)
	}
	slices.Sort(streams)
	if !slices.Equal(streams, []string{"shard0/s1", "shard2/s1"}) {
		t.Fatalf("streams %v", streams)
	}
	if lags := h.src.Lags(time.Now()); lags["shard2/s1"] != 2*time.Second || len(lags) != 2 {
		t.Fatalf("lags %v", lags)
	}
	h.stop(t)
	if err := h.src.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := h.leases.releasedShards(); !slices.Equal(got, []int{0, 2}) {
		t.Fatalf("released %v after the stop, want [0 2]", got)
	}
	if h.reader(0).flushes.Load() == 0 || h.reader(2).flushes.Load() == 0 {
		t.Fatal("progress not saved before the leases were released")
	}
}

// A lost lease stops the shard's reader; it is not released (it is not ours).
func TestLostLeaseStopsTheShard(t *testing.T) {
	h := newHarness(t, 1)
	poll.Eventually(t, 10*time.Second, owned(h.src, 1))
	poll.Eventually(t, 10*time.Second, poll.True("reader running", func() bool { return h.reader(1) != nil && h.reader(1).running.Load() }))
	h.leases.mu.Lock()
	h.leases.refuse[1] = true // and another node has it now
	lease := h.leases.held[1]
	h.leases.mu.Unlock()
	lease.lost.Store(true)
	poll.Eventually(t, 10*time.Second, owned(h.src))
	poll.Eventually(t, 10*time.Second, poll.True("reader stopped", func() bool { return !h.reader(1).running.Load() }))
	if held, _, _ := h.metrics.of(1); held {
		t.Fatal("metrics still show the lost shard held")
	}
	if h.reader(1).flushes.Load() == 0 {
		t.Fatal("the lost shard's acknowledged progress was not offered to the (fenced) store")
	}
	if got := h.leases.releasedShards(); len(got) != 0 {
		t.Fatalf("released %v, a lost lease is not ours to release", got)
	}
	h.stop(t)
}

// A shard placed elsewhere is handed over once its events are acknowledged.
func TestHandoverWaitsForEventsInFlight(t *testing.T) {
	h := newHarness(t, 3)
	poll.Eventually(t, 10*time.Second, poll.True("delivery", func() bool { return len(h.deliveries()) == 1 }))
	poll.Eventually(t, 10*time.Second, poll.True("shard 3 held, its lag reported", func() bool {
		held, lag, _ := h.metrics.of(3)
		return held && lag == 3*time.Second
	}))
	h.setPlacement()
	poll.Eventually(t, 10*time.Second, poll.True("reader stopped", func() bool { return !h.reader(3).running.Load() }))
	if got := h.leases.releasedShards(); len(got) != 0 {
		t.Fatalf("released %v with an event in flight", got)
	}
	h.deliveries()[0].Ack()
	h.deliveries()[0].Ack() // a second ack of one event counts nothing
	poll.Eventually(t, 10*time.Second, poll.True("released", func() bool { return slices.Equal(h.leases.releasedShards(), []int{3}) }))
	if held, _, processed := h.metrics.of(3); held || processed != 1 {
		t.Fatalf("after the handover: held %t, processed %d; want false, 1", held, processed)
	}
	if h.reader(3).flushes.Load() == 0 {
		t.Fatal("released before saving progress")
	}
	if !slices.Equal(h.src.Owned(), nil) {
		t.Fatalf("still owns %v", h.src.Owned())
	}
	h.stop(t)
}

// The guard given to a reader fails once the lease is no longer valid.
func TestGuardFailsWithTheLease(t *testing.T) {
	var guard func() error
	leases := newLeases()
	src, err := shardrelay.New(shardrelay.Config{RenewInterval: time.Hour}, leases, func() []int { return []int{5} },
		func(_ int, _ shardrelay.Lease, g func() error) (shardrelay.Reader, error) {
			guard = g
			return &fakeReader{shard: 5, guard: g}, nil
		}, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- src.Run(ctx, func(cdcstream.Delivery) {}) }()
	poll.Eventually(t, 10*time.Second, owned(src, 5))
	if err := guard(); err != nil {
		t.Fatalf("guard with a valid lease: %v", err)
	}
	leases.mu.Lock()
	leases.held[5].lost.Store(true)
	leases.mu.Unlock()
	if err := guard(); !errors.Is(err, shardrelay.ErrLeaseLost) || !strings.Contains(err.Error(), "shard 5") {
		t.Fatalf("guard with a lost lease: %v", err)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
