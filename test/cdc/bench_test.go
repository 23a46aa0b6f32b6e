package cdc_test

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gocql/gocql"
	scyllacdc "github.com/scylladb/scylla-cdc-go"

	"github.com/outboxnode/outbox/infra/miniscylla/miniscyllatest"
	"github.com/outboxnode/outbox/internal/poll"
	"github.com/outboxnode/outbox/test/harness"
)

// setupBenchTable creates a CDC table in a fresh server.
func setupBenchTable(b *testing.B, opts ...func(*gocql.ClusterConfig)) *gocql.Session {
	b.Helper()
	s, _ := startServer(b, opts...)
	miniscyllatest.Exec(b, s, "CREATE KEYSPACE bench WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}")
	miniscyllatest.Exec(b, s, "CREATE TABLE bench.t (pk int, ck int, v text, PRIMARY KEY (pk, ck)) WITH cdc = {'enabled': true}")
	return s
}

type countingConsumer struct{ n *atomic.Int64 }

func (c countingConsumer) CreateChangeConsumer(context.Context, scyllacdc.CreateChangeConsumerInput) (scyllacdc.ChangeConsumer, error) {
	return c, nil
}
func (c countingConsumer) Consume(context.Context, scyllacdc.Change) error { c.n.Add(1); return nil }
func (c countingConsumer) End() error                                      { return nil }

// BenchmarkReaderDrain measures how fast one Reader drains a backlog of
// 100,000 single-row changes (100,000 log rows) over many partitions.
func BenchmarkReaderDrain(b *testing.B) {
	harness.EmbeddedOnly(b, "it measures miniscylla's CDC log in process")
	const backlog, perBatch = 100_000, 100
	s := setupBenchTable(b)
	for i := 0; i < backlog; i += perBatch {
		batch := s.Batch(gocql.UnloggedBatch)
		for j := i; j < i+perBatch; j++ {
			batch.Query("INSERT INTO bench.t (pk, ck, v) VALUES (?, ?, 'x')", j%5000, j)
		}
		if err := s.ExecuteBatch(batch); err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	var total time.Duration
	for i := 0; i < b.N; i++ {
		var n atomic.Int64
		start := time.Now()
		r := startReader(b, &scyllacdc.ReaderConfig{
			Session: s, TableNames: []string{"bench.t"}, ChangeConsumerFactory: countingConsumer{&n},
			Advanced: fastReader(),
		})
		poll.Eventually(b, 5*time.Minute, poll.True("the backlog to drain", func() bool { return n.Load() >= backlog }))
		total += time.Since(start)
		r.stop(b)
		if got := n.Load(); got != backlog {
			b.Fatalf("consumed %d changes, want %d", got, backlog)
		}
	}
	b.ReportMetric(float64(backlog)*float64(b.N)/total.Seconds(), "changes/s")
}

// consumeTimes records when each change, identified by its v value, was
// consumed.
type consumeTimes struct {
	mu sync.Mutex
	at map[string]time.Time
}

func (c *consumeTimes) CreateChangeConsumer(context.Context, scyllacdc.CreateChangeConsumerInput) (scyllacdc.ChangeConsumer, error) {
	return c, nil
}

func (c *consumeTimes) Consume(_ context.Context, ch scyllacdc.Change) error {
	now := time.Now()
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, d := range ch.Delta {
		if v, _ := d.GetValue("v"); v != nil {
			if p, ok := v.(*string); ok && p != nil {
				c.at[*p] = now
			}
		}
	}
	return nil
}

func (c *consumeTimes) End() error { return nil }

func (c *consumeTimes) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.at)
}

// BenchmarkCommitToConsume measures a live stream: writers commit b.N
// changes as fast as the store takes them while one reader consumes them.
// The store stamps the writes (the driver sends no timestamp), so the
// reader runs with the node's 10 ms confidence window. It reports the rate
// the reader drained them at (first commit to last Consume) and the median
// and p99 delay from a write's commit (Exec returned) to its Consume call.
func BenchmarkCommitToConsume(b *testing.B) {
	const writers = 16
	harness.EmbeddedOnly(b, "it measures miniscylla's CDC log in process")
	s := setupBenchTable(b, func(c *gocql.ClusterConfig) { c.DefaultTimestamp = false })
	consumed := &consumeTimes{at: map[string]time.Time{}}
	adv := fastReader()
	adv.ConfidenceWindowSize = 10 * time.Millisecond
	adv.PostEmptyQueryDelay = 10 * time.Millisecond
	r := startReader(b, &scyllacdc.ReaderConfig{
		Session: s, TableNames: []string{"bench.t"}, ChangeConsumerFactory: consumed, Advanced: adv,
	})
	defer r.stop(b)
	committed := make([]time.Time, b.N)
	errs := make([]error, writers)
	var next atomic.Int64
	var wg sync.WaitGroup
	b.ResetTimer()
	start := time.Now()
	for w := range writers {
		wg.Go(func() {
			for i := int(next.Add(1)) - 1; i < b.N; i = int(next.Add(1)) - 1 {
				if err := s.Query("INSERT INTO bench.t (pk, ck, v) VALUES (?, ?, ?)", i%1000, i, strconv.Itoa(i)).Exec(); err != nil {
					errs[w] = err
					return
				}
				committed[i] = time.Now()
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		b.Fatal(err)
	}
	poll.Eventually(b, time.Minute, poll.True("every change to be consumed", func() bool { return consumed.len() >= b.N }))
	b.StopTimer()
	delays := make([]time.Duration, b.N)
	var last time.Time
	consumed.mu.Lock()
	for i := range delays {
		at := consumed.at[strconv.Itoa(i)]
		delays[i] = at.Sub(committed[i])
		if at.After(last) {
			last = at
		}
	}
	consumed.mu.Unlock()
	slices.Sort(delays)
	b.ReportMetric(float64(b.N)/last.Sub(start).Seconds(), "changes/s")
	b.ReportMetric(float64(delays[len(delays)/2])/1e6, "p50-ms")
	b.ReportMetric(float64(delays[len(delays)*99/100])/1e6, "p99-ms")
}
