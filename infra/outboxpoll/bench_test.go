package outboxpoll_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gocql/gocql"

	"github.com/outboxnode/outbox/actors/cdcstream"
)

// BenchmarkPollerCatchUp measures the read side alone: b.N events written
// before the run (outside the timer), then one Run delivering them all,
// acked at once. Each range read scans the whole table, so events/s falls
// as b.N grows (compare -benchtime=10000x with 100000x).
func BenchmarkPollerCatchUp(b *testing.B) {
	s := storeTB(b)
	// Within the poller's StartAge (an hour), however long the writes take.
	base := time.Now().Add(-30 * time.Minute).Truncate(time.Millisecond)
	agg := gocql.MustRandomUUID()
	batch := s.Batch(gocql.UnloggedBatch)
	for i := range b.N {
		batch.Query(`INSERT INTO orders_ks.outbox_messages (aggregate_id, event_id, aggregate_type, aggregate_version, event_type, payload, created_at)
			VALUES (?, ?, 'order', ?, 'OrderUpdated', ?, ?)`, agg, gocql.TimeUUID(), i+1, []byte(`{}`), base.Add(time.Duration(i)*100*time.Microsecond))
		if batch.Size() == 100 || i == b.N-1 {
			if err := s.ExecuteBatch(batch); err != nil {
				b.Fatal(err)
			}
			batch = s.Batch(gocql.UnloggedBatch)
		}
	}
	p := newPoller(b, s, nil)
	var got atomic.Int64
	done := make(chan struct{})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	b.ResetTimer()
	go func() {
		_ = p.Run(ctx, func(d cdcstream.Delivery) {
			d.Ack()
			if got.Add(1) == int64(b.N) {
				close(done)
			}
		})
	}()
	select {
	case <-done:
	case <-time.After(2 * time.Minute):
	}
	b.StopTimer()
	if n := got.Load(); n < int64(b.N) {
		b.Fatalf("%d of %d events delivered", n, b.N)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}
