package outboxpoll_test

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/gocql/gocql"

	"github.com/outboxnode/outbox/actors/cdcstream"
	"github.com/outboxnode/outbox/infra/config"
	"github.com/outboxnode/outbox/infra/miniscylla"
	"github.com/outboxnode/outbox/infra/miniscylla/miniscyllatest"
	"github.com/outboxnode/outbox/infra/outboxpoll"
	"github.com/outboxnode/outbox/infra/scylla"
	"github.com/outboxnode/outbox/schema"
)

// Test timing: the write timeout and safety lag are short so that the
// tests wait little; their ratio is the production one's.
const (
	writeTimeout = 100 * time.Millisecond
	safetyLag    = 150 * time.Millisecond
)

// store runs miniscylla with the node's schema and returns a session of
// the real driver.
func store(t *testing.T) *gocql.Session { return storeTB(t) }

func storeTB(t testing.TB) *gocql.Session {
	t.Helper()
	ctx := context.Background()
	srv := miniscyllatest.Start(t, miniscylla.Config{})
	cfg := config.Default().Scylla
	cfg.Consistency = "ONE"
	session, err := scylla.Connect(ctx, cfg, []string{srv.Addr()}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(session.Close)
	stmts, err := schema.Statements(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := scylla.Migrate(ctx, session, stmts); err != nil {
		t.Fatal(err)
	}
	return session.Session
}

// insert writes one outbox event of agg created at createdAt.
func insert(t *testing.T, s *gocql.Session, agg gocql.UUID, version int, createdAt time.Time) gocql.UUID {
	t.Helper()
	id := gocql.UUIDFromTime(createdAt)
	err := s.Query(`INSERT INTO orders_ks.outbox_messages (aggregate_id, event_id, aggregate_type, aggregate_version, event_type, payload, headers, created_at)
		VALUES (?, ?, 'order', ?, 'OrderUpdated', ?, {'content_type': 'application/json'}, ?)`,
		agg, id, version, []byte(`{"v":1}`), createdAt).Exec()
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func newPoller(t testing.TB, s *gocql.Session, set func(*outboxpoll.Config)) *outboxpoll.Poller {
	t.Helper()
	cfg := outboxpoll.Config{Keyspace: "orders_ks", StartAge: time.Hour, Consistency: gocql.One,
		WriteTimeout: writeTimeout, SafetyLag: safetyLag, Interval: 10 * time.Millisecond}
	if set != nil {
		set(&cfg)
	}
	p, err := outboxpoll.New(cfg, s, nil)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// collector records deliveries and acks them when ack is true.
type collector struct {
	mu   sync.Mutex
	ack  bool
	got  []cdcstream.Delivery
	held []cdcstream.Delivery
}

func (c *collector) deliver(d cdcstream.Delivery) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.got = append(c.got, d)
	if c.ack {
		d.Ack()
	} else {
		c.held = append(c.held, d)
	}
}

func (c *collector) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.got)
}

// versions returns the delivered versions per aggregate, in delivery order.
func (c *collector) versions() map[string][]int32 {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := map[string][]int32{}
	for _, d := range c.got {
		ev := d.Request.GetEvent()
		out[ev.GetAggregateId()] = append(out[ev.GetAggregateId()], ev.GetAggregateVersion())
	}
	return out
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

type running struct {
	cancel context.CancelFunc
	errC   chan error
}

func start(p *outboxpoll.Poller, c *collector) *running {
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{cancel: cancel, errC: make(chan error, 1)}
	go func() { r.errC <- p.Run(ctx, c.deliver) }()
	return r
}

// stop ends the run and saves its acknowledged position.
func (r *running) stop(t *testing.T, p *outboxpoll.Poller) {
	t.Helper()
	r.cancel()
	select {
	case err := <-r.errC:
		if err != nil {
			t.Fatalf("run: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("poller did not stop")
	}
	if err := p.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func TestPollerDeliversInOrderAndResumesFromSavedPosition(t *testing.T) {
	s := store(t)
	base := time.Now().Add(-time.Minute).Truncate(time.Millisecond)
	aggs := []gocql.UUID{gocql.MustRandomUUID(), gocql.MustRandomUUID()}
	// Two aggregates interleaved; versions 2 and 3 of each share a millisecond.
	for v := 1; v <= 5; v++ {
		for i, agg := range aggs {
			insert(t, s, agg, v, base.Add(time.Duration(v/2*10+i)*time.Millisecond))
		}
	}
	p := newPoller(t, s, nil)
	c := &collector{ack: true}
	r := start(p, c)
	waitFor(t, "10 events", func() bool { return c.count() >= 10 })
	r.stop(t, p)
	if c.count() != 10 {
		t.Fatalf("%d deliveries, want 10", c.count())
	}
	for agg, vs := range c.versions() {
		if len(vs) != 5 || vs[0] != 1 || vs[4] != 5 || vs[1] != 2 || vs[2] != 3 || vs[3] != 4 {
			t.Errorf("aggregate %s delivered versions %v, want 1..5", agg, vs)
		}
	}
	for _, d := range c.got {
		if d.Request.GetDecodeError() != "" || d.Stream != outboxpoll.Stream {
			t.Errorf("delivery %+v", d)
		}
	}
	var pos time.Time
	if err := s.Query(`SELECT position FROM orders_ks.outbox_poll_offsets WHERE relay = ?`, outboxpoll.DefaultRelayName).Scan(&pos); err != nil || !pos.After(base) {
		t.Fatalf("saved position %s (%v), want after the events", pos, err)
	}

	// A new run resumes from the saved position: only the new event.
	newID := insert(t, s, aggs[0], 6, time.Now())
	p2 := newPoller(t, s, nil)
	c2 := &collector{ack: true}
	r2 := start(p2, c2)
	waitFor(t, "the new event", func() bool { return c2.count() >= 1 })
	r2.stop(t, p2)
	if c2.count() != 1 || c2.got[0].Request.GetEvent().GetEventId() != newID.String() {
		t.Fatalf("resumed run delivered %d: %v", c2.count(), c2.got)
	}
}

// TestPollerSplitsRangesWithTooManyRows: with MaxRows below the rows of
// the first range, the poller halves it until each read fits, and still
// delivers every event once, in order.
func TestPollerSplitsRangesWithTooManyRows(t *testing.T) {
	s := store(t)
	base := time.Now().Add(-10 * time.Minute).Truncate(time.Millisecond)
	agg := gocql.MustRandomUUID()
	const n = 40
	for v := 1; v <= n; v++ {
		insert(t, s, agg, v, base.Add(time.Duration(v)*time.Second))
	}
	// Four events in one millisecond: a range that cannot be split is read whole.
	other := gocql.MustRandomUUID()
	for v := 1; v <= 4; v++ {
		insert(t, s, other, v, base.Add(time.Minute))
	}
	p := newPoller(t, s, func(c *outboxpoll.Config) { c.MaxRows = 3 })
	c := &collector{ack: true}
	r := start(p, c)
	waitFor(t, "every event", func() bool { return c.count() >= n+4 })
	r.stop(t, p)
	vs := c.versions()
	if c.count() != n+4 || len(vs[agg.String()]) != n || len(vs[other.String()]) != 4 {
		t.Fatalf("%d deliveries, want %d once each", c.count(), n+4)
	}
	for i, v := range vs[agg.String()] {
		if v != int32(i+1) {
			t.Fatalf("versions out of order: %v", vs[agg.String()])
		}
	}
}

// TestPollerUnackedEventsAreReadAgain: the window stops the scan while
// nothing is acknowledged, and the saved position stays before the first
// unacknowledged event, so a new run delivers it and everything after. It
// also delivers the acknowledged event once more: a position is a
// millisecond, read again inclusively, since other events of the same
// millisecond may not be acknowledged.
func TestPollerUnackedEventsAreReadAgain(t *testing.T) {
	s := store(t)
	base := time.Now().Add(-time.Minute).Truncate(time.Millisecond)
	agg := gocql.MustRandomUUID()
	for v := 1; v <= 5; v++ {
		insert(t, s, agg, v, base.Add(time.Duration(v)*time.Millisecond))
	}
	p := newPoller(t, s, func(c *outboxpoll.Config) { c.InFlight = 2 })
	c := &collector{}
	r := start(p, c)
	waitFor(t, "the window to fill", func() bool { return c.count() == 2 })
	if lag := p.Lags(time.Now())[outboxpoll.Stream]; lag < time.Minute {
		t.Errorf("lag %s while the minute-old first event is held", lag)
	}
	c.mu.Lock()
	c.held[0].Ack()
	c.mu.Unlock()
	waitFor(t, "a third delivery after an ack", func() bool { return c.count() == 3 })
	r.stop(t, p)

	c2 := &collector{ack: true}
	p2 := newPoller(t, s, nil)
	r2 := start(p2, c2)
	waitFor(t, "5 events again", func() bool { return c2.count() >= 5 })
	r2.stop(t, p2)
	if vs := c2.versions()[agg.String()]; len(vs) != 5 || vs[0] != 1 || vs[4] != 5 {
		t.Fatalf("re-read versions %v, want 1 (the boundary) to 5", vs)
	}
}

// TestPollerReadsAWriteThatLandsLate: an event becomes visible up to the
// write timeout after its created_at; once the poller is caught up, such a
// late write is still read, because the scan stays SafetyLag behind.
func TestPollerReadsAWriteThatLandsLate(t *testing.T) {
	s := store(t)
	agg := gocql.MustRandomUUID()
	p := newPoller(t, s, nil)
	c := &collector{ack: true}
	r := start(p, c)
	defer r.stop(t, p)
	insert(t, s, agg, 1, time.Now())
	waitFor(t, "the first event", func() bool { return c.count() == 1 })
	// Committed just now, stamped almost a write timeout ago.
	insert(t, s, agg, 2, time.Now().Add(-writeTimeout*9/10))
	waitFor(t, "the late event", func() bool { return c.count() == 2 })
}

func TestPollerUndecodableRowIsDeliveredWithItsError(t *testing.T) {
	s := store(t)
	agg := gocql.MustRandomUUID()
	if err := s.Query(`INSERT INTO orders_ks.outbox_messages (aggregate_id, event_id, payload, created_at) VALUES (?, now(), 0xff, ?)`,
		agg, time.Now().Add(-time.Minute)).Exec(); err != nil {
		t.Fatal(err)
	}
	p := newPoller(t, s, nil)
	c := &collector{ack: true}
	r := start(p, c)
	waitFor(t, "the poison row", func() bool { return c.count() == 1 })
	r.stop(t, p)
	req := c.got[0].Request
	if req.GetDecodeError() == "" || req.GetEvent().GetAggregateId() != agg.String() || req.GetEvent().GetEventId() == "" {
		t.Fatalf("poison delivered as %v", req)
	}
}

// TestPollerReportsAFailingScan: once the table is gone every scan fails;
// ReadErr says so and the lag grows with the position's age.
func TestPollerReportsAFailingScan(t *testing.T) {
	s := store(t)
	p := newPoller(t, s, nil)
	c := &collector{ack: true}
	r := start(p, c)
	defer r.stop(t, p)
	waitFor(t, "a first scan", func() bool { return len(p.Lags(time.Now())) == 1 })
	if err := s.Query(`DROP TABLE orders_ks.outbox_messages`).Exec(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the read error", func() bool { return p.ReadErr() != nil })
	if lag := p.Lags(time.Now().Add(time.Hour))[outboxpoll.Stream]; lag < time.Hour {
		t.Errorf("lag an hour later %s", lag)
	}
}

func TestConfigDefaultsAndValidate(t *testing.T) {
	c := outboxpoll.Config{Keyspace: "ks", StartAge: time.Hour, WriteTimeout: 5 * time.Second}
	c.SetDefaults()
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if c.SafetyLag != outboxpoll.DefaultSafetyLag || c.OffsetsTable != "outbox_poll_offsets" || c.Interval != outboxpoll.DefaultInterval {
		t.Fatalf("defaults %+v", c)
	}
	for name, bad := range map[string]func(*outboxpoll.Config){
		"no keyspace":        func(c *outboxpoll.Config) { c.Keyspace = "" },
		"no start age":       func(c *outboxpoll.Config) { c.StartAge = 0 },
		"lag within a write": func(c *outboxpoll.Config) { c.SafetyLag = c.WriteTimeout },
		"no write timeout":   func(c *outboxpoll.Config) { c.WriteTimeout = 0 },
		"negative window":    func(c *outboxpoll.Config) { c.InFlight = -1 },
		"negative max rows":  func(c *outboxpoll.Config) { c.MaxRows = -1 },
		"negative interval":  func(c *outboxpoll.Config) { c.Interval = -time.Second },
	} {
		b := c
		bad(&b)
		if err := b.Validate(); !errors.Is(err, outboxpoll.ErrInvalidConfig) {
			t.Errorf("%s: %v", name, err)
		}
	}
}
