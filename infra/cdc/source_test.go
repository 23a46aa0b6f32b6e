package cdc_test

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gocql/gocql"
	scyllacdc "github.com/scylladb/scylla-cdc-go"

	"github.com/outboxnode/outbox/actors/cdcstream"
	"github.com/outboxnode/outbox/infra/cdc"
	"github.com/outboxnode/outbox/infra/config"
	"github.com/outboxnode/outbox/infra/logtest"
	"github.com/outboxnode/outbox/infra/miniscylla"
	"github.com/outboxnode/outbox/infra/scylla"
	"github.com/outboxnode/outbox/internal/poll"
	"github.com/outboxnode/outbox/schema"
)

// store runs miniscylla with the node's schema and returns a session.
func store(t *testing.T) *gocql.Session {
	t.Helper()
	s, _ := storeAt(t, config.Default().Scylla.Replication)
	return s
}

// storeAt is store with the keyspace replicated (and laid out) as repl; it
// also returns the server's address.
func storeAt(t *testing.T, repl config.Replication) (*gocql.Session, string) {
	t.Helper()
	ctx := context.Background()
	srv, err := miniscylla.Start(ctx, miniscylla.Config{Addr: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	cfg := config.Default().Scylla
	cfg.Consistency = "ONE"
	cfg.Replication = repl
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
	return session.Session, srv.Addr()
}

func insert(t *testing.T, s *gocql.Session, agg gocql.UUID, version int, eventType string) gocql.UUID {
	t.Helper()
	id := gocql.TimeUUID()
	err := s.Query(`INSERT INTO orders_ks.outbox_messages (aggregate_id, event_id, aggregate_type, aggregate_version, event_type, payload, headers, created_at)
		VALUES (?, ?, 'order', ?, ?, ?, {'content_type': 'application/json'}, ?)`,
		agg, id, version, eventType, []byte(`{"v":1}`), time.Now()).Exec()
	if err != nil {
		t.Fatal(err)
	}
	return id
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

type running struct {
	cancel context.CancelFunc
	errC   chan error
}

func start(t *testing.T, src *cdc.Source, c *collector) *running {
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{cancel: cancel, errC: make(chan error, 1)}
	go func() { r.errC <- src.Run(ctx, c.deliver) }()
	return r
}

func (r *running) stop(t *testing.T) {
	t.Helper()
	r.cancel()
	select {
	case err := <-r.errC:
		if err != nil {
			t.Fatalf("run: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("source did not stop")
	}
}

func newSource(t *testing.T, s *gocql.Session, inFlight int) *cdc.Source {
	t.Helper()
	return newLoggedSource(t, s, inFlight, nil)
}

func newLoggedSource(t *testing.T, s *gocql.Session, inFlight int, log *slog.Logger) *cdc.Source {
	t.Helper()
	src, err := cdc.New(cdc.Config{Keyspace: "orders_ks", ChangeAgeLimit: time.Hour, Consistency: gocql.One, InFlight: inFlight}, s, log)
	if err != nil {
		t.Fatal(err)
	}
	return src
}

func TestSourceDeliversDeltasInOrderAndResumesFromSavedProgress(t *testing.T) {
	s := store(t)
	agg := gocql.MustRandomUUID()
	var ids []gocql.UUID
	for v := 1; v <= 5; v++ {
		ids = append(ids, insert(t, s, agg, v, "OrderUpdated"))
	}
	// A delete of an outbox row (say by an operator) is not an event.
	if err := s.Query(`DELETE FROM orders_ks.outbox_messages WHERE aggregate_id = ? AND event_id = ?`, agg, ids[0]).Exec(); err != nil {
		t.Fatal(err)
	}
	logs, log := logtest.New()
	src := newLoggedSource(t, s, 100, log)
	c := &collector{ack: true}
	r := start(t, src, c)
	poll.Eventually(t, 30*time.Second, poll.True("5 events", func() bool { return c.count() >= 5 }))
	if got := resumeLines(logs); len(got) != 1 || got[0].Message != "cdc reader resumed: no saved position, reading from the start of the generation" {
		t.Errorf("first run's resume lines: %+v", got)
	}
	r.stop(t)
	if err := src.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	if c.count() != 5 {
		t.Fatalf("%d deliveries, want 5", c.count())
	}
	for i, d := range c.got {
		ev := d.Request.GetEvent()
		if d.Request.GetDecodeError() != "" || ev.GetEventId() != ids[i].String() || ev.GetAggregateVersion() != int32(i+1) {
			t.Errorf("delivery %d: %v", i, d.Request)
		}
	}
	var saved int
	if err := s.Query(`SELECT COUNT(*) FROM orders_ks.cdc_offsets`).Scan(&saved); err != nil || saved == 0 {
		t.Fatalf("cdc_offsets rows %d, err %v", saved, err)
	}

	// A new run resumes after the saved progress: only the new event.
	newID := insert(t, s, agg, 6, "OrderCancelled")
	c2 := &collector{ack: true}
	logs2, log2 := logtest.New()
	r2 := start(t, newLoggedSource(t, s, 100, log2), c2)
	poll.Eventually(t, 30*time.Second, poll.True("the new event", func() bool { return c2.count() >= 1 }))
	r2.stop(t)
	// The saved position is the last change read (the delete, after version 5).
	got := resumeLines(logs2)
	if len(got) != 1 || got[0].Message != "cdc reader resumed from saved positions" || got[0].Attrs["saved"].Int64() < 1 ||
		got[0].Attrs["oldest"].Time().Before(ids[4].Time()) || got[0].Attrs["oldest"].Time().After(newID.Time()) {
		t.Errorf("second run's resume lines: %+v, want one saved position after %s", got, ids[4].Time())
	}
	if c2.count() != 1 || c2.got[0].Request.GetEvent().GetEventId() != newID.String() {
		t.Fatalf("resumed run delivered %d: %v", c2.count(), c2.got)
	}
}

// resumeLines returns the reader's resume lines.
func resumeLines(r *logtest.Recorder) []logtest.Line {
	var out []logtest.Line
	for _, l := range r.Lines() {
		if strings.HasPrefix(l.Message, "cdc reader resumed") && l.Level == slog.LevelInfo {
			out = append(out, l)
		}
	}
	return out
}

func TestSourceWindowBlocksAndUnackedEventsAreReadAgain(t *testing.T) {
	s := store(t)
	agg := gocql.MustRandomUUID()
	for v := 1; v <= 5; v++ {
		insert(t, s, agg, v, "OrderUpdated")
	}
	src := newSource(t, s, 2)
	c := &collector{}
	r := start(t, src, c)
	poll.Eventually(t, 30*time.Second, poll.True("the window to fill", func() bool { return c.count() == 2 }))
	// The window is full: the reader has read the third event and waits for
	// a slot, so nothing more is delivered while nothing is acknowledged.
	poll.Eventually(t, 30*time.Second, poll.True("the reader to wait on the full window", func() bool { return cdc.WindowWaiters(src) == 1 }))
	if c.count() != 2 {
		t.Fatalf("%d deliveries with a window of 2", c.count())
	}
	if lags := src.Lags(time.Now()); len(lags) == 0 {
		t.Error("no lag reported while events are held")
	}
	c.mu.Lock()
	c.held[0].Ack()
	c.mu.Unlock()
	poll.Eventually(t, 30*time.Second, poll.True("a third delivery after an ack", func() bool { return c.count() == 3 }))
	r.stop(t)
	if err := src.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	// Only the first event is checkpointed: a new run reads the other four again.
	c2 := &collector{ack: true}
	r2 := start(t, newSource(t, s, 100), c2)
	poll.Eventually(t, 30*time.Second, poll.True("4 events again", func() bool { return c2.count() >= 4 }))
	r2.stop(t)
	if c2.count() != 4 || c2.got[0].Request.GetEvent().GetAggregateVersion() != 2 {
		t.Fatalf("re-read %d events, first %v", c2.count(), c2.got[0].Request)
	}
}

func TestSourceUndecodableRowIsDeliveredWithItsError(t *testing.T) {
	s := store(t)
	agg := gocql.MustRandomUUID()
	if err := s.Query(`INSERT INTO orders_ks.outbox_messages (aggregate_id, event_id, payload) VALUES (?, now(), 0xff)`, agg).Exec(); err != nil {
		t.Fatal(err)
	}
	c := &collector{ack: true}
	r := start(t, newSource(t, s, 10), c)
	poll.Eventually(t, 30*time.Second, poll.True("the poison row", func() bool { return c.count() == 1 }))
	r.stop(t)
	req := c.got[0].Request
	if req.GetDecodeError() == "" || req.GetEvent().GetAggregateId() != agg.String() || req.GetEvent().GetEventId() == "" {
		t.Fatalf("poison delivered as %v", req)
	}
}

func TestSourceIgnoresPreAndPostImages(t *testing.T) {
	s := store(t)
	if err := s.Query(`ALTER TABLE orders_ks.outbox_messages WITH cdc = {'enabled': true, 'preimage': true, 'postimage': true}`).Exec(); err != nil {
		t.Fatal(err)
	}
	agg := gocql.MustRandomUUID()
	first := insert(t, s, agg, 1, "OrderCreated")
	// Rewriting the same row gives a pre-image as well as a post-image.
	if err := s.Query(`INSERT INTO orders_ks.outbox_messages (aggregate_id, event_id, aggregate_type, aggregate_version, event_type, payload, created_at)
		VALUES (?, ?, 'order', 1, 'OrderCreated', ?, ?)`, agg, first, []byte(`{"v":2}`), time.Now()).Exec(); err != nil {
		t.Fatal(err)
	}
	second := insert(t, s, agg, 2, "OrderUpdated")
	images := 0
	var op int8
	iter := s.Query(`SELECT "cdc$operation" FROM orders_ks.outbox_messages_scylla_cdc_log`).Iter()
	for iter.Scan(&op) {
		if op == int8(scyllacdc.PreImage) || op == int8(scyllacdc.PostImage) {
			images++
		}
	}
	if err := iter.Close(); err != nil || images < 4 {
		t.Fatalf("%d image rows in the CDC log (%v), want at least 4", images, err)
	}
	c := &collector{ack: true}
	r := start(t, newSource(t, s, 10), c)
	poll.Eventually(t, 30*time.Second, poll.True("3 deltas", func() bool { return c.count() >= 3 }))
	r.stop(t)
	if c.count() != 3 {
		t.Fatalf("%d deliveries for 3 delta rows (with their images)", c.count())
	}
	want := []string{first.String(), first.String(), second.String()}
	for i, d := range c.got {
		if d.Request.GetDecodeError() != "" || d.Request.GetEvent().GetEventId() != want[i] {
			t.Errorf("delivery %d: %v", i, d.Request)
		}
	}
}
