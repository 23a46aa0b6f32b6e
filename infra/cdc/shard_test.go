package cdc_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/gocql/gocql"
	"github.com/google/uuid"
	scyllacdc "github.com/scylladb/scylla-cdc-go"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/outboxnode/outbox/actors/orders"
	"github.com/outboxnode/outbox/infra/cdc"
	"github.com/outboxnode/outbox/infra/scylla"
	"github.com/outboxnode/outbox/infra/scylla/scyllatest"
	"github.com/outboxnode/outbox/internal/poll"
	"github.com/outboxnode/outbox/messages"
)

// shardRows keeps what IsEventRow and Decode make of the delta rows
// scylla-cdc-go reads from a shard table's log.
type shardRows struct {
	mu      sync.Mutex
	events  []*messages.PublishEvent
	skipped int
}

func (c *shardRows) CreateChangeConsumer(context.Context, scyllacdc.CreateChangeConsumerInput) (scyllacdc.ChangeConsumer, error) {
	return c, nil
}

func (c *shardRows) Consume(_ context.Context, ch scyllacdc.Change) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, row := range ch.Delta {
		if cdc.IsEventRow(row) {
			c.events = append(c.events, cdc.Decode(row))
		} else {
			c.skipped++
		}
	}
	return nil
}

func (c *shardRows) End() error { return nil }

func (c *shardRows) read() ([]*messages.PublishEvent, int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]*messages.PublishEvent(nil), c.events...), c.skipped
}

// The log of an outbox shard table, as scylla-cdc-go hands it over, has a
// static delta row beside each event row: IsEventRow skips the static ones
// and every event row decodes cleanly, also without headers (no null
// written beside the TTL'd cells, which CDC would log as a row apart).
func TestShardTableDeltasDecodeToEventsOnly(t *testing.T) {
	_, session, cfg := scyllatest.Start(t)
	cfg.OutboxShards = 2
	scyllatest.Migrate(t, session, cfg)
	store, err := scylla.NewShardStore(session, cfg.Keyspace, cfg.OutboxShards, cfg.OutboxTTL)
	if err != nil {
		t.Fatal(err)
	}
	id := uuid.New()
	var want []string
	for v := int32(1); v <= 3; v++ {
		c := shardChange(t, id, v)
		if err := store.Commit(t.Context(), c); err != nil {
			t.Fatal(err)
		}
		want = append(want, c.Event.GetEventId())
	}

	var timing cdc.Config
	timing.SetDefaults()
	rows := &shardRows{}
	reader, err := scyllacdc.NewReader(t.Context(), &scyllacdc.ReaderConfig{
		Session:               session.Session,
		TableNames:            []string{cfg.Keyspace + "." + scylla.ShardTableName(scylla.ShardOf(id, cfg.OutboxShards))},
		Consistency:           gocql.One,
		ChangeConsumerFactory: rows,
		Advanced: scyllacdc.AdvancedReaderConfig{
			ConfidenceWindowSize: timing.ConfidenceWindow, PostNonEmptyQueryDelay: timing.PollDelay,
			PostEmptyQueryDelay: timing.IdleDelay, PostFailedQueryDelay: timing.FailedDelay,
			QueryTimeWindowSize: timing.QueryWindow, ChangeAgeLimit: time.Hour,
			PostGenerationFetchDelay: timing.GenerationPoll,
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- reader.Run(context.Background()) }()
	t.Cleanup(func() {
		reader.Stop()
		if err := <-done; err != nil {
			t.Errorf("reader: %v", err)
		}
	})
	poll.Eventually(t, 30*time.Second, poll.True("three events read", func() bool {
		events, _ := rows.read()
		return len(events) >= len(want)
	}))
	events, skipped := rows.read()
	if len(events) != len(want) || skipped != len(want) {
		t.Fatalf("%d events and %d skipped rows, want %d of each", len(events), skipped, len(want))
	}
	for i, req := range events {
		ev := req.GetEvent()
		if req.GetDecodeError() != "" || ev.GetEventId() != want[i] || ev.GetAggregateId() != id.String() || ev.GetAggregateVersion() != int32(i+1) {
			t.Errorf("event %d: %v (decode error %q), want %s v%d", i, ev, req.GetDecodeError(), want[i], i+1)
		}
	}
}

func shardChange(t *testing.T, id uuid.UUID, version int32) orders.Change {
	t.Helper()
	eventID, err := uuid.NewUUID()
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC().Truncate(time.Millisecond)
	return orders.Change{
		Order: orders.State{OrderID: id, CustomerID: "c", Status: orders.StatusCreated, Currency: "EUR", Version: version, CreatedAt: now, UpdatedAt: now},
		Event: &messages.OutboxEvent{
			EventId: eventID.String(), AggregateType: orders.AggregateType, AggregateId: id.String(), AggregateVersion: version,
			EventType: orders.EventOrderCreated, Payload: []byte(`{}`), OccurredAt: timestamppb.New(now),
		},
	}
}
