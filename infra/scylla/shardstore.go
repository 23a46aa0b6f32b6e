package scylla

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"strings"
	"time"

	"github.com/gocql/gocql"
	"github.com/google/uuid"
	"github.com/scylladb/gocqlx/v2"
	"github.com/scylladb/gocqlx/v2/qb"

	"github.com/outboxnode/outbox/actors/orders"
)

// ShardOf returns the outbox shard (0 <= shard < shards) of an order: FNV-1a
// 64 of the id's 16 bytes, mod shards. It is fixed forever: an order's rows
// live in the table of its shard, so a changed hash would lose every order
// written before. shards must be at least 1.
func ShardOf(orderID uuid.UUID, shards int) int {
	h := fnv.New64a()
	_, _ = h.Write(orderID[:]) // a hash.Hash never fails to write
	return int(h.Sum64() % uint64(shards))
}

// ShardTableName is the name of the outbox shard table of shard (schema
// 006_outbox_shards.cql), without the keyspace.
func ShardTableName(shard int) string {
	return fmt.Sprintf("outbox_shard_%d", shard)
}

// ShardStore is cluster mode's orders.Store: an order and its events live
// in one partition of its shard table (ShardOf), the order's state in static
// columns and an event per clustering row. Each commit is one conditional
// batch on the order's version, so the store, not a lease, keeps a single
// writer per order: of two activations committing the same version, one
// gets orders.ErrConflict and wrote nothing. It is safe for concurrent use
// and does not own the session.
type ShardStore struct {
	session gocqlx.Session
	shards  []shardStatements
}

var _ orders.Store = (*ShardStore)(nil)

// shardStatements are the CQL statements of one shard table with their bind
// names.
type shardStatements struct {
	load, commit, event                string
	loadNames, commitNames, eventNames []string
}

// expectedVersion names the bind marker of the commit's condition.
const expectedVersion = "expected_version"

// NewShardStore returns a ShardStore on the shards outbox shard tables of
// keyspace (already migrated with config.Scylla.OutboxShards = shards);
// event rows expire after eventTTL (config.Scylla.OutboxTTL), the order's
// state never.
func NewShardStore(session gocqlx.Session, keyspace string, shards int, eventTTL time.Duration) (*ShardStore, error) {
	if shards < 1 {
		return nil, fmt.Errorf("shard store: %d shards, want at least 1", shards)
	}
	if eventTTL < time.Second {
		return nil, fmt.Errorf("shard store: event TTL %s, want at least 1s", eventTTL)
	}
	// The static columns are the orders columns, prefixed; order_id is the
	// partition key aggregate_id.
	var statics, aliased []string
	for _, c := range OrdersTable(keyspace).Metadata().Columns {
		if c != "order_id" {
			statics = append(statics, "order_"+c)
			aliased = append(aliased, qb.As("order_"+c, c))
		}
	}
	s := &ShardStore{session: session, shards: make([]shardStatements, shards)}
	for k := range s.shards {
		name := keyspace + "." + ShardTableName(k)
		st := &s.shards[k]
		// A partition lists the static columns with each event row: one is enough.
		st.load, st.loadNames = qb.Select(name).Columns(append([]string{qb.As("aggregate_id", "order_id")}, aliased...)...).
			Where(qb.Eq("aggregate_id")).Limit(1).ToCql()
		// A null expected version (a new order) holds only while the partition
		// has no order: a condition on the static row, where IF NOT EXISTS on
		// the event row would check that row alone.
		st.commit, st.commitNames = qb.Update(name).Set(statics...).Where(qb.Eq("aggregate_id")).
			If(qb.EqNamed("order_version", expectedVersion)).ToCql()
		st.event, st.eventNames = eventTable(name).InsertBuilder().TTL(eventTTL).ToCql()
	}
	return s, nil
}

// Load reads an order's state from the static columns of its partition;
// found is false when the partition holds no order version.
func (s *ShardStore) Load(ctx context.Context, id uuid.UUID) (orders.State, bool, error) {
	st := &s.shards[ShardOf(id, len(s.shards))]
	var r OrderRow
	err := s.session.ContextQuery(ctx, st.load, st.loadNames).Bind(id).GetRelease(&r)
	if errors.Is(err, gocql.ErrNotFound) {
		return orders.State{}, false, nil
	}
	if err != nil {
		return orders.State{}, false, fmt.Errorf("load order %s: %w", id, err)
	}
	if r.Version == 0 {
		return orders.State{}, false, nil
	}
	return r.state(), true, nil
}

// Commit writes the order's state and its event row in one conditional
// batch, applied only if the stored version is the one c.Order follows
// (none for version 1). When another commit came first it returns an error
// wrapping orders.ErrConflict with the stored version, and nothing was
// written. Any other error leaves the outcome unknown.
func (s *ShardStore) Commit(ctx context.Context, c orders.Change) error {
	e, err := outboxRow(c.Event)
	if err != nil {
		return fmt.Errorf("commit order %s: %w", c.Order.OrderID, err)
	}
	o := orderRow(c.Order)
	// The batch is conditional, so it must stay in the order's partition.
	if e.AggregateID != o.OrderID {
		return fmt.Errorf("commit order %s: %w", o.OrderID,
			&BadEventError{Field: "aggregate_id", Err: fmt.Errorf("%s is not the order", e.AggregateID)})
	}
	st := &s.shards[ShardOf(o.OrderID, len(s.shards))]
	commitVals, err := bind(st.commitNames, func(name string) (any, bool) {
		switch name {
		case "aggregate_id":
			return o.OrderID, true
		case expectedVersion:
			if o.Version > 1 {
				return o.Version - 1, true
			}
			return nil, true
		}
		column, ok := strings.CutPrefix(name, "order_")
		if !ok {
			return nil, false
		}
		return o.column(column)
	})
	if err != nil {
		return fmt.Errorf("commit order %s: %w", o.OrderID, err)
	}
	eventVals, err := bind(st.eventNames, func(name string) (any, bool) {
		if name == "headers" && len(e.Headers) == 0 {
			// A null would write a tombstone beside the cells with a TTL, which
			// CDC logs as a delta row of its own: an event row without the event.
			return gocql.UnsetValue, true
		}
		return e.column(name)
	})
	if err != nil {
		return fmt.Errorf("commit order %s: %w", o.OrderID, err)
	}
	b := s.session.Session.BatchWithContext(ctx, gocql.LoggedBatch)
	b.Query(st.commit, commitVals...)
	b.Query(st.event, eventVals...)
	found := map[string]any{}
	applied, iter, err := s.session.Session.MapExecuteBatchCAS(b, found)
	if iter != nil {
		if cerr := iter.Close(); err == nil {
			err = cerr
		}
	}
	if err != nil {
		return fmt.Errorf("commit order %s v%d (%s): %w", o.OrderID, o.Version, e.EventType, err)
	}
	if !applied {
		// The result row holds the stored static columns; a null version reads as 0.
		return fmt.Errorf("commit order %s v%d (%s): %w: the store has v%v", o.OrderID, o.Version, e.EventType, orders.ErrConflict, found["order_version"])
	}
	return nil
}
