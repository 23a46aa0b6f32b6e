package cdc_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gocql/gocql"
	scyllacdc "github.com/scylladb/scylla-cdc-go"

	"github.com/outboxnode/outbox/infra/cdc"
	"github.com/outboxnode/outbox/internal/poll"
)

// memProgress is a progress manager in memory: what a shard's fenced
// checkpoints stand in for here.
type memProgress struct {
	mu    sync.Mutex
	gen   time.Time
	saved map[string]scyllacdc.Progress
}

func (m *memProgress) GetCurrentGeneration(context.Context) (time.Time, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.gen, nil
}

func (m *memProgress) StartGeneration(_ context.Context, gen time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.gen = gen
	return nil
}

func (m *memProgress) GetProgress(_ context.Context, _ time.Time, _ string, id scyllacdc.StreamID) (scyllacdc.Progress, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.saved[id.String()], nil
}

func (m *memProgress) SaveProgress(_ context.Context, _ time.Time, _ string, id scyllacdc.StreamID, p scyllacdc.Progress) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.saved[id.String()] = p
	return nil
}

func (m *memProgress) count() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.saved)
}

// A shard's source saves its progress where it is told (not in cdc_offsets),
// and once its guard fails it delivers nothing more and ends with the
// guard's error.
func TestSourceWithProgressAndGuard(t *testing.T) {
	s := store(t)
	agg := gocql.MustRandomUUID()
	insert(t, s, agg, 1, "OrderCreated")
	pm := &memProgress{saved: map[string]scyllacdc.Progress{}}
	lost := errors.New("lease lost")
	var held atomic.Bool
	held.Store(true)
	guard := func() error {
		if held.Load() {
			return nil
		}
		return lost
	}
	src, err := cdc.New(cdc.Config{Keyspace: "orders_ks", ChangeAgeLimit: time.Hour, Consistency: gocql.One}, s, nil,
		cdc.WithProgress(pm), cdc.WithGuard(guard))
	if err != nil {
		t.Fatal(err)
	}
	c := &collector{ack: true}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	errC := make(chan error, 1)
	go func() { errC <- src.Run(ctx, c.deliver) }()
	poll.Eventually(t, 30*time.Second, poll.True("the first event and its progress saved", func() bool { return c.count() == 1 && pm.count() > 0 }))
	// The table-backed progress would have created cdc_offsets.
	if err := s.Query(`SELECT COUNT(*) FROM orders_ks.cdc_offsets`).Exec(); err == nil {
		t.Fatal("cdc_offsets exists: the source saved its progress there too")
	}

	held.Store(false)
	insert(t, s, agg, 2, "OrderUpdated")
	select {
	case err := <-errC:
		if !errors.Is(err, lost) {
			t.Fatalf("run ended with %v, want the guard's error", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the run went on after its guard failed")
	}
	if c.count() != 1 {
		t.Fatalf("%d deliveries after the guard failed, want 1", c.count())
	}
}
