package cdc_test

import (
	"context"
	"testing"
	"time"

	"github.com/gocql/gocql"

	"github.com/outboxnode/outbox/infra/config"
	"github.com/outboxnode/outbox/internal/poll"
)

// TestSourceFinishesOldStreamsBeforeTheNextStreamSet splits the outbox
// table of a tablets keyspace while events of the old streams are held
// unacknowledged: the events written after the split (new streams) are not
// delivered until the old ones are acknowledged and saved, so an
// aggregate's versions stay in order across the switch and a restart
// cannot resume past unpublished old events.
func TestSourceFinishesOldStreamsBeforeTheNextStreamSet(t *testing.T) {
	s, _ := storeAt(t, config.Replication{Strategy: config.NetworkTopologyStrategy,
		DataCenters: map[string]int{"datacenter1": 1}, Tablets: "on"})
	agg := gocql.MustRandomUUID()
	for v := 1; v <= 3; v++ {
		insert(t, s, agg, v, "OrderUpdated")
	}
	src := newSource(t, s, 100)
	c := &collector{}
	r := start(t, src, c)
	poll.Eventually(t, 30*time.Second, poll.True("the old streams' 3 events", func() bool { return c.count() == 3 }))

	if err := s.Query(`ALTER TABLE orders_ks.outbox_messages WITH tablets = {'min_tablet_count': 8}`).Exec(); err != nil {
		t.Fatal(err)
	}
	var next time.Time
	if err := s.Query(`SELECT timestamp FROM system.cdc_timestamps WHERE keyspace_name = 'orders_ks' AND table_name = 'outbox_messages' LIMIT 1`).Scan(&next); err != nil {
		t.Fatal(err)
	}
	poll.Eventually(t, 30*time.Second, poll.True("the new stream set to start", func() bool { return time.Now().After(next) }))
	for v := 4; v <= 5; v++ {
		insert(t, s, agg, v, "OrderUpdated")
	}
	// Give the reader time to read the new streams if it (wrongly) did:
	// several generation polls and confidence windows.
	time.Sleep(3 * time.Second)
	if n := c.count(); n != 3 {
		t.Fatalf("%d deliveries while the old streams' events are unacknowledged, want 3", n)
	}
	c.mu.Lock()
	c.ack = true
	for _, d := range c.held {
		d.Ack()
	}
	c.mu.Unlock()
	poll.Eventually(t, 30*time.Second, poll.True("the new streams' events", func() bool { return c.count() == 5 }))
	r.stop(t)
	if err := src.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	for i, d := range c.got {
		if v := d.Request.GetEvent().GetAggregateVersion(); v != int32(i+1) {
			t.Errorf("delivery %d has version %d, want %d", i, v, i+1)
		}
	}
	// A new run resumes in the new set after the saved progress: nothing again.
	c2 := &collector{ack: true}
	r2 := start(t, newSource(t, s, 100), c2)
	insert(t, s, agg, 6, "OrderUpdated")
	poll.Eventually(t, 30*time.Second, poll.True("the event written after the restart", func() bool { return c2.count() >= 1 }))
	r2.stop(t)
	if c2.count() != 1 || c2.got[0].Request.GetEvent().GetAggregateVersion() != 6 {
		t.Fatalf("the resumed run delivered %d events, first %v", c2.count(), c2.got[0].Request)
	}
}
