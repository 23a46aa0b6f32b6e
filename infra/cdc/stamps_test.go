package cdc_test

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/gocql/gocql"

	"github.com/outboxnode/outbox/infra/cdc"
	"github.com/outboxnode/outbox/infra/config"
	"github.com/outboxnode/outbox/infra/scylla"
	"github.com/outboxnode/outbox/internal/poll"
	"github.com/outboxnode/outbox/test/harness"
)

// Load of the small-window tests: concurrent writers whose every request
// reaches the store requestDelay after it was sent (a slow network or a
// loaded client), read with the 10 ms window of server timestamps.
const (
	stampWriters      = 32
	stampRowsPerWrite = 15
	requestDelay      = 100 * time.Millisecond
	stampProbe        = 100 * time.Millisecond
)

// TestServerTimestampsSmallWindowReadsEveryRow: the store stamps each
// write when it applies, so however late a request arrives, no row
// appears behind the reader, and the 10 ms window misses nothing.
func TestServerTimestampsSmallWindowReadsEveryRow(t *testing.T) {
	written, read := relayLateWrites(t, true)
	if read != written {
		t.Fatalf("the reader saw %d of %d rows: %d skipped", read, written, written-read)
	}
}

// TestClientTimestampsSmallWindowSkipsLateRows is why the small window
// needs server timestamps: the same load with the driver's timestamps
// gives rows a cdc$time older than the reader's position when they
// apply, and the reader never sees them.
func TestClientTimestampsSmallWindowSkipsLateRows(t *testing.T) {
	written, read := relayLateWrites(t, false)
	if read >= written {
		t.Fatalf("the reader saw %d of %d late client-stamped rows, want some skipped", read, written)
	}
	t.Logf("client timestamps: the reader skipped %d of %d rows", written-read, written)
}

// relayLateWrites runs a reader with the server-timestamp window while the
// writers commit through a delaying proxy, stamped by the store
// (serverTS) or by the driver. It returns the rows written and the
// distinct rows read once the reader has gone past every write: lag 0 in
// every stream, probed after the last write.
func relayLateWrites(t *testing.T, serverTS bool) (written, read int) {
	direct, addr := storeAt(t, config.Default().Scylla.Replication)
	src, err := cdc.New(cdc.Config{
		Keyspace: "orders_ks", ChangeAgeLimit: time.Hour, Consistency: gocql.One,
		ConfidenceWindow: cdc.ServerTimestampsConfidenceWindow,
		PollDelay:        5 * time.Millisecond, IdleDelay: 5 * time.Millisecond,
		LagProbeInterval: stampProbe,
	}, direct, nil)
	if err != nil {
		t.Fatal(err)
	}
	seen := &collector{ack: true}
	r := start(t, src, seen)
	defer r.stop(t)
	insert(t, direct, gocql.MustRandomUUID(), 1, "OrderCreated")
	poll.Eventually(t, 30*time.Second, poll.True("the reader to start", func() bool { return distinct(seen) == 1 }))

	cfg := config.Default().Scylla
	cfg.Consistency = "ONE"
	cfg.ServerTimestamps = &serverTS
	proxy := harness.NewDelayProxy(t, addr, requestDelay)
	writer, err := scylla.Connect(context.Background(), cfg, []string{proxy.Addr()}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(writer.Close)

	var wg sync.WaitGroup
	errs := make([]error, stampWriters)
	for w := range stampWriters {
		wg.Add(1)
		go func() {
			defer wg.Done()
			agg := gocql.MustRandomUUID()
			for v := 1; v <= stampRowsPerWrite && errs[w] == nil; v++ {
				errs[w] = writer.Session.Query(`INSERT INTO orders_ks.outbox_messages (aggregate_id, event_id, aggregate_type, aggregate_version, event_type, payload, created_at)
					VALUES (?, ?, 'order', ?, 'OrderUpdated', ?, ?)`, agg, gocql.TimeUUID(), v, []byte(`{}`), time.Now()).Exec()
			}
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	written = 1 + stampWriters*stampRowsPerWrite
	last := time.Now()
	poll.Eventually(t, 30*time.Second, poll.True("the reader past every write", func() bool {
		if distinct(seen) == written {
			return true
		}
		for _, lag := range src.Lags(time.Now()) {
			if lag > 0 {
				return false
			}
		}
		return time.Since(last) > cdc.ServerTimestampsConfidenceWindow+3*stampProbe
	}))
	return written, distinct(seen)
}

// distinct counts the events c was delivered, each once.
func distinct(c *collector) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	ids := map[string]struct{}{}
	for _, d := range c.got {
		ids[d.Request.GetEvent().GetEventId()] = struct{}{}
	}
	return len(ids)
}
