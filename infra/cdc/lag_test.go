package cdc_test

import (
	"context"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/gocql/gocql"

	"github.com/outboxnode/outbox/actors/cdcstream"
	"github.com/outboxnode/outbox/infra/cdc"
	"github.com/outboxnode/outbox/infra/config"
	"github.com/outboxnode/outbox/infra/scylla"
	"github.com/outboxnode/outbox/internal/poll"
	"github.com/outboxnode/outbox/test/harness"
)

// lagSource is a source that probes the log every 100 ms.
func lagSource(t *testing.T, s *gocql.Session) *cdc.Source {
	t.Helper()
	src, err := cdc.New(cdc.Config{Keyspace: "orders_ks", ChangeAgeLimit: time.Hour, Consistency: gocql.One,
		InFlight: 100, LagProbeInterval: 100 * time.Millisecond, FailedDelay: 50 * time.Millisecond}, s, nil)
	if err != nil {
		t.Fatal(err)
	}
	return src
}

func maxLag(src *cdc.Source) (time.Duration, string) {
	var m time.Duration
	var at string
	for st, l := range src.Lags(time.Now()) {
		if l > m {
			m, at = l, st
		}
	}
	return m, at
}

// TestLagCountsChangesTheReaderHasNotReturned stalls the reader inside
// its first delivery while events keep being committed to other streams:
// the reader never returns them, yet their streams report a lag, found by
// the probe in the CDC log. Once the reader goes on, the lag is back to 0.
func TestLagCountsChangesTheReaderHasNotReturned(t *testing.T) {
	s := store(t)
	src := lagSource(t, s)
	gate := make(chan struct{})
	var (
		mu      sync.Mutex
		stalled string
		acks    int
	)
	deliver := func(d cdcstream.Delivery) {
		mu.Lock()
		first := stalled == ""
		if first {
			stalled = d.Stream
		}
		mu.Unlock()
		if first {
			<-gate
		}
		d.Ack()
		mu.Lock()
		acks++
		mu.Unlock()
	}
	ctx, cancel := context.WithCancel(context.Background())
	errC := make(chan error, 1)
	go func() { errC <- src.Run(ctx, deliver) }()
	defer func() {
		cancel()
		if err := <-errC; err != nil {
			t.Errorf("run: %v", err)
		}
	}()
	insert(t, s, gocql.MustRandomUUID(), 1, "OrderCreated")
	poll.Eventually(t, 30*time.Second, poll.True("the reader to stall", func() bool { mu.Lock(); defer mu.Unlock(); return stalled != "" }))

	committed := 1
	poll.Eventually(t, 30*time.Second, poll.True("a lag in a stream the reader has not returned anything from", func() bool {
		insert(t, s, gocql.MustRandomUUID(), 1, "OrderCreated")
		committed++
		for st, l := range src.Lags(time.Now()) {
			if st != stalled && l > 0 {
				t.Logf("stream %s: lag %s while the reader is stalled in stream %s", st, l, stalled)
				return true
			}
		}
		time.Sleep(50 * time.Millisecond)
		return false
	}))
	if err := src.ReadErr(); err != nil {
		t.Errorf("a stalled, not failing reader reports %v", err)
	}
	close(gate)
	poll.Eventually(t, 30*time.Second, poll.True("every event acknowledged and the lag back to 0", func() bool {
		mu.Lock()
		n := acks
		mu.Unlock()
		l, _ := maxLag(src)
		return n == committed && l == 0
	}))
}

// TestFailingReaderReportsLagAndReason cuts the reader's connection to the
// store while events keep being committed through another session: the
// source reports why its reads fail and a lag above 0; once the connection
// is back, the reader catches up, the reason clears and the lag is 0.
func TestFailingReaderReportsLagAndReason(t *testing.T) {
	writer, addr := storeAt(t, config.Default().Scylla.Replication)
	p := harness.NewProxy(t, addr)
	cfg := config.Default().Scylla
	cfg.Consistency = "ONE"
	cfg.Timeout = time.Second
	cfg.ConnectTimeout = time.Second
	reader, err := scylla.Connect(context.Background(), cfg, []string{p.Addr()}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(reader.Close)
	src := lagSource(t, reader.Session)
	c := &collector{ack: true}
	r := start(t, src, c)
	defer r.stop(t)
	insert(t, writer, gocql.MustRandomUUID(), 1, "OrderCreated")
	poll.Eventually(t, 30*time.Second, poll.True("the first event", func() bool { return c.count() == 1 }))
	poll.Eventually(t, 30*time.Second, poll.True("lag 0 while the reader keeps up", func() bool { l, _ := maxLag(src); return l == 0 }))

	p.SetCut(true)
	committed := 1
	poll.Eventually(t, 30*time.Second, poll.True("a failing read and a lag above 0", func() bool {
		insert(t, writer, gocql.MustRandomUUID(), 1, "OrderCreated")
		committed++
		l, _ := maxLag(src)
		return l > 0 && src.ReadErr() != nil
	}))
	l, st := maxLag(src)
	t.Logf("reader cut off: lag %s (stream %s), reason: %v", l, st, src.ReadErr())
	if c.count() != 1 {
		t.Fatalf("%d events delivered while the reader was cut off", c.count())
	}

	p.SetCut(false)
	poll.Eventually(t, 30*time.Second, poll.True("every event delivered, reads healthy and lag 0", func() bool {
		l, _ := maxLag(src)
		return c.count() == committed && src.ReadErr() == nil && l == 0
	}))
}
