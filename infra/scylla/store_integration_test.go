package scylla_test

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/scylladb/gocqlx/v2"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/outboxnode/outbox/actors/orders"
	"github.com/outboxnode/outbox/infra/config"
	"github.com/outboxnode/outbox/infra/logtest"
	"github.com/outboxnode/outbox/infra/miniscylla"
	"github.com/outboxnode/outbox/infra/miniscylla/miniscyllatest"
	"github.com/outboxnode/outbox/infra/scylla"
	"github.com/outboxnode/outbox/infra/scylla/scyllatest"
	"github.com/outboxnode/outbox/messages"
	"github.com/outboxnode/outbox/schema"
	"github.com/outboxnode/outbox/test/harness"
)

// startStore runs miniscylla with the schema, migrates it once more (it
// must be idempotent) and returns the server, a session and a Store.
func startStore(t testing.TB) (*miniscylla.Server, gocqlx.Session, *scylla.Store) {
	t.Helper()
	srv, session, cfg := scyllatest.Start(t)
	scyllatest.Migrate(t, session, cfg)
	return srv, session, scylla.NewStore(session, cfg.Keyspace)
}

func change(t testing.TB, id uuid.UUID, version int32, status orders.Status) orders.Change {
	t.Helper()
	eventID, err := uuid.NewUUID()
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC().Truncate(time.Millisecond)
	return orders.Change{
		Order: orders.State{
			OrderID: id, CustomerID: "alice", Status: status,
			Items:      []orders.Item{{SKU: "A", Quantity: 2}, {SKU: "B", Quantity: 1}},
			TotalCents: 1250 * int64(version), Currency: "EUR", Version: version, CreatedAt: now, UpdatedAt: now,
		},
		Event: &messages.OutboxEvent{
			EventId: eventID.String(), AggregateType: orders.AggregateType, AggregateId: id.String(),
			AggregateVersion: version, EventType: "OrderCreated", Payload: []byte(`{"v":1}`),
			Headers: map[string]string{"content_type": "application/json"}, OccurredAt: timestamppb.New(now),
		},
	}
}

func outboxCount(t *testing.T, s gocqlx.Session, id uuid.UUID) int {
	t.Helper()
	stmt, names := scylla.OutboxTable("orders_ks").Select()
	var rows []scylla.OutboxRow
	if err := s.Query(stmt, names).Bind(id).SelectRelease(&rows); err != nil {
		t.Fatalf("select outbox: %v", err)
	}
	return len(rows)
}

func TestStoreCommitAndLoad(t *testing.T) {
	_, session, store := startStore(t)
	ctx := t.Context()
	id := uuid.New()

	if _, found, err := store.Load(ctx, id); err != nil || found {
		t.Fatalf("Load of a new id: found=%v err=%v", found, err)
	}
	c1 := change(t, id, 1, orders.StatusCreated)
	if err := store.Commit(ctx, c1); err != nil {
		t.Fatalf("Commit v1: %v", err)
	}
	c2 := change(t, id, 2, orders.StatusUpdated)
	if err := store.Commit(ctx, c2); err != nil {
		t.Fatalf("Commit v2: %v", err)
	}
	got, found, err := store.Load(ctx, id)
	if err != nil || !found {
		t.Fatalf("Load: found=%v err=%v", found, err)
	}
	want := c2.Order
	if got.Version != 2 || got.Status != orders.StatusUpdated || got.TotalCents != want.TotalCents ||
		len(got.Items) != 2 || got.Items[0] != want.Items[0] || got.Items[1] != want.Items[1] ||
		!got.CreatedAt.Equal(want.CreatedAt) {
		t.Fatalf("Load = %+v, want %+v", got, want)
	}

	stmt, names := scylla.OutboxTable("orders_ks").Select()
	var rows []scylla.OutboxRow
	if err := session.Query(stmt, names).Bind(id).SelectRelease(&rows); err != nil {
		t.Fatal(err)
	}
	if len(rows) != 2 || rows[0].AggregateVersion != 1 || rows[1].AggregateVersion != 2 ||
		rows[1].EventID.String() != c2.Event.GetEventId() || rows[1].Headers["content_type"] != "application/json" {
		t.Fatalf("outbox rows = %+v", rows)
	}
}

func TestStoreCommitRejectsBadEventWithoutWriting(t *testing.T) {
	_, session, store := startStore(t)
	id := uuid.New()
	c := change(t, id, 1, orders.StatusCreated)
	c.Event.EventId = uuid.NewString() // random, not a time UUID
	if err := store.Commit(t.Context(), c); err == nil {
		t.Fatal("Commit with a random event id succeeded")
	}
	if _, found, _ := store.Load(t.Context(), id); found || outboxCount(t, session, id) != 0 {
		t.Fatal("a rejected change wrote rows")
	}
}

// commitUnderOutboxFault commits a new order with writes to outbox_messages
// failing at the server (the order statement is the batch's first, the
// outbox statement its second) and reports which rows exist afterwards.
func commitUnderOutboxFault(t *testing.T, srv *miniscylla.Server, session gocqlx.Session, commit func(context.Context, orders.Change) error) (orderRow, outboxRow bool) {
	t.Helper()
	srv.FailWrites("orders_ks", "outbox_messages")
	defer srv.HealWrites()
	id := uuid.New()
	before := srv.FailedWrites()
	if err := commit(t.Context(), change(t, id, 1, orders.StatusCreated)); err == nil {
		t.Fatal("commit with outbox_messages failing at the server succeeded")
	}
	if srv.FailedWrites() == before {
		t.Fatal("the fault refused no write: the commit failed before reaching the server")
	}
	_, found, err := scylla.NewStore(session, "orders_ks").Load(t.Context(), id)
	if err != nil {
		t.Fatal(err)
	}
	return found, outboxCount(t, session, id) > 0
}

// TestStoreCommitIsAtomicAtTheServer: the LOGGED BATCH reaches the server,
// its second statement is refused there, and neither row is applied.
func TestStoreCommitIsAtomicAtTheServer(t *testing.T) {
	srv, session, store := startStore(t)
	if order, outbox := commitUnderOutboxFault(t, srv, session, store.Commit); order || outbox {
		t.Fatalf("a failed commit left rows: order %v, outbox %v", order, outbox)
	}
	id := uuid.New()
	if err := store.Commit(t.Context(), change(t, id, 1, orders.StatusCreated)); err != nil {
		t.Fatalf("commit once healed: %v", err)
	}
	if _, found, _ := store.Load(t.Context(), id); !found || outboxCount(t, session, id) != 1 {
		t.Fatal("a commit once healed did not write both rows")
	}
}

// TestAtomicityCheckCatchesTwoWrites shows the check above can fail: a
// commit as two separate writes, under the same fault, leaves the order
// row behind.
func TestAtomicityCheckCatchesTwoWrites(t *testing.T) {
	srv, session, _ := startStore(t)
	twoWrites := func(ctx context.Context, c orders.Change) error {
		o, e := c.Order, c.Event
		stmt, names := scylla.OrdersTable("orders_ks").Insert()
		if err := session.ContextQuery(ctx, stmt, names).BindStruct(scylla.OrderRow{
			OrderID: o.OrderID, CustomerID: o.CustomerID, Status: string(o.Status), Items: map[string]int32{"A": 1},
			TotalCents: o.TotalCents, Currency: o.Currency, Version: o.Version, CreatedAt: o.CreatedAt, UpdatedAt: o.UpdatedAt,
		}).ExecRelease(); err != nil {
			return err
		}
		stmt, names = scylla.OutboxTable("orders_ks").Insert()
		return session.ContextQuery(ctx, stmt, names).BindStruct(scylla.OutboxRow{
			AggregateID: o.OrderID, EventID: uuid.MustParse(e.GetEventId()), AggregateType: e.GetAggregateType(),
			AggregateVersion: e.GetAggregateVersion(), EventType: e.GetEventType(), Payload: e.GetPayload(), CreatedAt: o.CreatedAt,
		}).ExecRelease()
	}
	if order, outbox := commitUnderOutboxFault(t, srv, session, twoWrites); !order || outbox {
		t.Fatalf("two writes under the fault: order row %v, outbox row %v; want the order row alone", order, outbox)
	}
}

// TestProbeFollowsTheStore closes the store under a running probe, then
// serves its address again: one line each way, and the health state
// follows.
func TestProbeFollowsTheStore(t *testing.T) {
	srv, session, _ := startStore(t)
	logs, log := logtest.New()
	p := scylla.NewProbe(session, log)
	if status, detail := p.Check(t.Context()); p.Name() != "scylla" || status != messages.HealthStatus_HEALTH_STATUS_OK {
		t.Fatalf("%s: %v %q, want ok", p.Name(), status, detail)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() { p.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	addr := srv.Addr()
	if err := srv.Close(); err != nil {
		t.Fatal(err)
	}
	harness.Eventually(t, 30*time.Second, func() error {
		if status, detail := p.Check(t.Context()); status != messages.HealthStatus_HEALTH_STATUS_DOWN || !strings.HasPrefix(detail, "unreachable since ") {
			return fmt.Errorf("after the server closed: %v %q", status, detail)
		}
		return nil
	})
	miniscyllatest.Start(t, miniscylla.Config{Addr: addr})
	harness.Eventually(t, time.Minute, func() error {
		if status, detail := p.Check(t.Context()); status != messages.HealthStatus_HEALTH_STATUS_OK {
			return fmt.Errorf("after the server is back: %v %q", status, detail)
		}
		return nil
	})
	if got, want := logs.Messages(slog.LevelInfo), []string{"scylla unreachable", "scylla reachable"}; !slices.Equal(got, want) {
		t.Fatalf("logged %q, want %q", got, want)
	}
}

func TestConnectUnreachable(t *testing.T) {
	cfg := config.Default().Scylla
	cfg.ConnectTimeout = time.Second
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := ln.Addr().String()
	ln.Close()
	if _, err := scylla.Connect(ctx, cfg, []string{closed}, slog.New(slog.DiscardHandler)); err == nil {
		t.Fatalf("Connect to closed %s succeeded", closed)
	}
}

func TestMigrateWithTabletsOff(t *testing.T) {
	srv, err := miniscylla.Start(context.Background(), miniscylla.Config{Addr: "127.0.0.1:0"})
	if err != nil {
		t.Fatalf("start miniscylla: %v", err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	cfg := config.Default().Scylla
	cfg.Keyspace = "vnodes_ks"
	cfg.Replication.Tablets = "off"
	session, err := scylla.Connect(t.Context(), cfg, []string{srv.Addr()}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	t.Cleanup(session.Close)
	stmts, err := schema.Statements(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := scylla.Migrate(t.Context(), session, stmts); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	var n int64
	if err := session.Session.Query("SELECT COUNT(*) FROM vnodes_ks.outbox_messages").Scan(&n); err != nil || n != 0 {
		t.Fatalf("outbox table in the vnodes keyspace: n=%d err=%v", n, err)
	}
}
