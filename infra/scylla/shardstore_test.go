package scylla_test

import (
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gocql/gocql"
	"github.com/google/uuid"
	"github.com/scylladb/gocqlx/v2"

	"github.com/outboxnode/outbox/actors/orders"
	"github.com/outboxnode/outbox/infra/config"
	"github.com/outboxnode/outbox/infra/miniscylla"
	"github.com/outboxnode/outbox/infra/scylla"
	"github.com/outboxnode/outbox/infra/scylla/scyllatest"
)

const testShards = 4

// startShards runs miniscylla with the cluster-mode schema of testShards
// shard tables and returns the server, a session, the settings and a
// ShardStore.
func startShards(tb testing.TB) (*miniscylla.Server, gocqlx.Session, config.Scylla, *scylla.ShardStore) {
	tb.Helper()
	srv, session, cfg := scyllatest.Start(tb)
	cfg.OutboxShards = testShards
	scyllatest.Migrate(tb, session, cfg)
	return srv, session, cfg, newShardStore(tb, session, cfg)
}

func newShardStore(tb testing.TB, session gocqlx.Session, cfg config.Scylla) *scylla.ShardStore {
	tb.Helper()
	store, err := scylla.NewShardStore(session, cfg.Keyspace, cfg.OutboxShards, cfg.OutboxTTL)
	if err != nil {
		tb.Fatal(err)
	}
	return store
}

// shardTable is keyspace.table of the shard of id.
func shardTable(cfg config.Scylla, id uuid.UUID) string {
	return cfg.Keyspace + "." + scylla.ShardTableName(scylla.ShardOf(id, cfg.OutboxShards))
}

// shardEvents reads the event rows of order id.
func shardEvents(t *testing.T, s gocqlx.Session, cfg config.Scylla, id uuid.UUID) []scylla.OutboxRow {
	t.Helper()
	var rows []scylla.OutboxRow
	q := s.Query(`SELECT aggregate_id, event_id, aggregate_type, aggregate_version, event_type, payload, headers, created_at FROM `+
		shardTable(cfg, id)+` WHERE aggregate_id = ?`, nil).Bind(id)
	if err := q.SelectRelease(&rows); err != nil {
		t.Fatalf("select events of %s: %v", id, err)
	}
	return rows
}

func TestShardOfIsStableAndSpreads(t *testing.T) {
	// Fixed forever: rows already written live in these tables. The wants
	// are FNV-1a 64 of the 16 bytes computed independently.
	for _, tc := range []struct {
		id     string
		shards int
		want   int
	}{
		{"00000000-0000-0000-0000-000000000000", 1, 0},
		{"00000000-0000-0000-0000-000000000000", 4, 1},
		{"00000000-0000-0000-0000-000000000000", 16, 5},
		{"00000000-0000-0000-0000-000000000000", 256, 101},
		{"6ba7b810-9dad-11d1-80b4-00c04fd430c8", 4, 0},
		{"6ba7b810-9dad-11d1-80b4-00c04fd430c8", 16, 12},
		{"6ba7b810-9dad-11d1-80b4-00c04fd430c8", 256, 28},
	} {
		if got := scylla.ShardOf(uuid.MustParse(tc.id), tc.shards); got != tc.want {
			t.Errorf("ShardOf(%s, %d) = %d, want %d", tc.id, tc.shards, got, tc.want)
		}
	}
	// Seeded, so the test is deterministic; ±20% is far beyond the noise.
	counts := make([]int, 8)
	rng := rand.New(rand.NewPCG(1, 2))
	for range 8000 {
		var id uuid.UUID
		binary.BigEndian.PutUint64(id[:8], rng.Uint64())
		binary.BigEndian.PutUint64(id[8:], rng.Uint64())
		counts[scylla.ShardOf(id, 8)]++
	}
	for k, n := range counts {
		if n < 800 || n > 1200 {
			t.Errorf("shard %d got %d of 8000 random ids", k, n)
		}
	}
}

func TestNewShardStoreRefusesBadSettings(t *testing.T) {
	for _, tc := range []struct {
		shards int
		ttl    time.Duration
	}{{0, time.Hour}, {4, time.Millisecond}} {
		if _, err := scylla.NewShardStore(gocqlx.Session{}, "ks", tc.shards, tc.ttl); err == nil {
			t.Errorf("NewShardStore(%d shards, TTL %s) succeeded", tc.shards, tc.ttl)
		}
	}
}

func TestShardStoreCommitAndLoad(t *testing.T) {
	_, session, cfg, store := startShards(t)
	ctx := t.Context()
	id := uuid.New()
	if _, found, err := store.Load(ctx, id); err != nil || found {
		t.Fatalf("Load of a new id: found=%v err=%v", found, err)
	}
	var last orders.Change
	for v, status := range []orders.Status{orders.StatusCreated, orders.StatusUpdated, orders.StatusCancelled} {
		last = change(t, id, int32(v+1), status)
		if err := store.Commit(ctx, last); err != nil {
			t.Fatalf("Commit v%d: %v", v+1, err)
		}
	}
	got, found, err := store.Load(ctx, id)
	if err != nil || !found {
		t.Fatalf("Load: found=%v err=%v", found, err)
	}
	want := last.Order
	if got.OrderID != id || got.Version != 3 || got.Status != orders.StatusCancelled || got.CustomerID != want.CustomerID ||
		got.TotalCents != want.TotalCents || got.Currency != want.Currency || fmt.Sprint(got.Items) != fmt.Sprint(want.Items) ||
		!got.CreatedAt.Equal(want.CreatedAt) || !got.UpdatedAt.Equal(want.UpdatedAt) {
		t.Fatalf("Load = %+v, want %+v", got, want)
	}
	rows := shardEvents(t, session, cfg, id)
	if len(rows) != 3 || rows[2].AggregateVersion != 3 || rows[2].EventID.String() != last.Event.GetEventId() ||
		rows[2].Headers["content_type"] != "application/json" || string(rows[2].Payload) != `{"v":1}` {
		t.Fatalf("event rows = %+v", rows)
	}
	// Other orders are untouched by this partition's state.
	if _, found, err := store.Load(ctx, uuid.New()); err != nil || found {
		t.Fatalf("Load of another id: found=%v err=%v", found, err)
	}
}

func TestShardStoreCommitRejectsBadChangeWithoutWriting(t *testing.T) {
	_, session, cfg, store := startShards(t)
	id := uuid.New()
	random := change(t, id, 1, orders.StatusCreated)
	random.Event.EventId = uuid.NewString()
	foreign := change(t, id, 1, orders.StatusCreated)
	foreign.Event.AggregateId = uuid.NewString()
	for name, c := range map[string]orders.Change{"random event id": random, "event of another order": foreign} {
		var bad *scylla.BadEventError
		if err := store.Commit(t.Context(), c); !errors.As(err, &bad) {
			t.Errorf("%s: Commit = %v, want a BadEventError", name, err)
		}
	}
	if _, found, _ := store.Load(t.Context(), id); found || len(shardEvents(t, session, cfg, id)) != 0 {
		t.Fatal("a rejected change wrote rows")
	}
}

// Two activations of one order (two nodes: two sessions, two stores) race
// from the same loaded state, version after version: exactly one commit of
// each version applies, every other gets ErrConflict naming the version it
// lost to and writes nothing.
func TestShardStoreSingleWriterUnderRace(t *testing.T) {
	srv, session, cfg, first := startShards(t)
	other, err := scylla.Connect(t.Context(), cfg, []string{srv.Addr()}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(other.Close)
	stores := []*scylla.ShardStore{first, newShardStore(t, other, cfg)}
	ctx := t.Context()
	id := uuid.New()
	const versions, racers = 5, 8
	winners := map[int32]string{}
	for v := int32(1); v <= versions; v++ {
		cur, found, err := first.Load(ctx, id)
		if err != nil || found != (v > 1) || cur.Version != v-1 {
			t.Fatalf("before v%d: Load = v%d found=%v err=%v", v, cur.Version, found, err)
		}
		changes := make([]orders.Change, racers)
		for i := range changes {
			changes[i] = change(t, id, cur.Version+1, orders.StatusUpdated)
		}
		errs := make([]error, racers)
		var start, done sync.WaitGroup
		start.Add(1)
		for i := range racers {
			done.Go(func() {
				start.Wait()
				errs[i] = stores[i%len(stores)].Commit(ctx, changes[i])
			})
		}
		start.Done()
		done.Wait()
		for i, err := range errs {
			switch {
			case err == nil:
				if w, ok := winners[v]; ok {
					t.Fatalf("v%d committed twice: events %s and %s", v, w, changes[i].Event.GetEventId())
				}
				winners[v] = changes[i].Event.GetEventId()
			case errors.Is(err, orders.ErrConflict):
				if want := fmt.Sprintf("the store has v%d", v); !strings.Contains(err.Error(), want) {
					t.Errorf("v%d conflict %q does not say %q", v, err, want)
				}
			default:
				t.Fatalf("v%d racer %d: %v", v, i, err)
			}
		}
		if _, ok := winners[v]; !ok {
			t.Fatalf("no commit of v%d applied", v)
		}
	}
	rows := shardEvents(t, session, cfg, id)
	if len(rows) != versions {
		t.Fatalf("%d event rows, want one per version (%d)", len(rows), versions)
	}
	for _, r := range rows {
		if winners[r.AggregateVersion] != r.EventID.String() {
			t.Errorf("event row v%d is %s, the commit that applied wrote %s", r.AggregateVersion, r.EventID, winners[r.AggregateVersion])
		}
	}
}

// Event rows expire with the outbox (USING TTL), the order's state never.
func TestShardStoreEventRowsExpireStateDoesNot(t *testing.T) {
	_, session, cfg, store := startShards(t)
	id := uuid.New()
	for v := int32(1); v <= 2; v++ {
		if err := store.Commit(t.Context(), change(t, id, v, orders.StatusCreated)); err != nil {
			t.Fatal(err)
		}
	}
	iter := session.Session.Query(`SELECT TTL(payload), TTL(order_status), TTL(order_version) FROM `+shardTable(cfg, id)+` WHERE aggregate_id = ?`, id).Iter()
	var payloadTTL, statusTTL, versionTTL *int
	n := 0
	for ; iter.Scan(&payloadTTL, &statusTTL, &versionTTL); n++ {
		if payloadTTL == nil || *payloadTTL <= 0 || *payloadTTL > int(cfg.OutboxTTL/time.Second) {
			t.Errorf("event row TTL %v, want (0, %d]", payloadTTL, int(cfg.OutboxTTL/time.Second))
		}
		if statusTTL != nil || versionTTL != nil {
			t.Errorf("static state TTLs %v %v, want none", statusTTL, versionTTL)
		}
	}
	if err := iter.Close(); err != nil || n != 2 {
		t.Fatalf("%d rows, err %v; want the 2 event rows", n, err)
	}
}

// The CDC log of the shard table has exactly one non-static delta row per
// committed event (the relay's events) beside the static rows of the state.
func TestShardStoreCDCLogHasOneEventRowPerCommit(t *testing.T) {
	_, session, cfg, store := startShards(t)
	id := uuid.New()
	var events []string
	for v := int32(1); v <= 3; v++ {
		c := change(t, id, v, orders.StatusUpdated)
		if v == 2 {
			// No null is written for absent headers: CDC would log it as a
			// delta row apart from the TTL'd cells, an event row without event.
			c.Event.Headers = nil
		}
		if err := store.Commit(t.Context(), c); err != nil {
			t.Fatal(err)
		}
		events = append(events, c.Event.GetEventId())
	}
	// A lost race writes nothing, to the log neither.
	if err := store.Commit(t.Context(), change(t, id, 3, orders.StatusUpdated)); !errors.Is(err, orders.ErrConflict) {
		t.Fatalf("stale commit: %v, want ErrConflict", err)
	}
	iter := session.Session.Query(`SELECT "cdc$operation", "cdc$ttl", aggregate_id, event_id, aggregate_version, order_version FROM ` +
		shardTable(cfg, id) + `_scylla_cdc_log`).Iter()
	var (
		op                       int8
		ttl                      *int64
		agg                      gocql.UUID
		eventID                  *gocql.UUID
		aggVersion, orderVersion *int
		got                      []string
		statics                  int
	)
	for iter.Scan(&op, &ttl, &agg, &eventID, &aggVersion, &orderVersion) {
		if agg.String() != id.String() {
			continue
		}
		if eventID == nil {
			statics++
			if orderVersion == nil || aggVersion != nil {
				t.Errorf("static delta: order_version %v, aggregate_version %v", orderVersion, aggVersion)
			}
			continue
		}
		if op != 2 || ttl == nil || *ttl != int64(cfg.OutboxTTL/time.Second) || aggVersion == nil || orderVersion != nil {
			t.Errorf("event delta %s: op %d ttl %v aggregate_version %v order_version %v", eventID, op, ttl, aggVersion, orderVersion)
		}
		got = append(got, eventID.String())
	}
	if err := iter.Close(); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(got) != fmt.Sprint(events) || statics != len(events) {
		t.Fatalf("log event rows %v and %d static rows, want %v and %d", got, statics, events, len(events))
	}
}
