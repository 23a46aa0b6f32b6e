package scylla_test

import (
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/outboxnode/outbox/actors/orders"
)

// BenchmarkShardStoreCommit measures ShardStore.Commit (one conditional
// batch: the order's static state and its event row, logged by CDC) from 64
// workers, each committing the next version of an order of its own, against
// miniscylla over the loopback. It reports commits/s and the p99 latency of
// a commit.
func BenchmarkShardStoreCommit(b *testing.B) {
	const workers = 64
	_, _, _, store := startShards(b)
	// Changes are built outside the timed loop: change stamps a time UUID.
	changes := make([][]orders.Change, workers)
	per := (b.N + workers - 1) / workers
	for w := range changes {
		id := uuid.New()
		for v := range per {
			changes[w] = append(changes[w], change(b, id, int32(v+1), orders.StatusUpdated))
		}
	}
	latencies := make([][]time.Duration, workers)
	var left atomic.Int64
	left.Store(int64(b.N))
	var wg sync.WaitGroup
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	for w := range workers {
		wg.Go(func() {
			for _, c := range changes[w] {
				if left.Add(-1) < 0 {
					return
				}
				t0 := time.Now()
				if err := store.Commit(b.Context(), c); err != nil {
					b.Errorf("Commit: %v", err)
					return
				}
				latencies[w] = append(latencies[w], time.Since(t0))
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	all := slices.Sorted(slices.Values(slices.Concat(latencies...)))
	if len(all) == 0 {
		return
	}
	b.ReportMetric(float64(len(all))/elapsed.Seconds(), "commits/s")
	// Nearest rank: the smallest latency at least 99% of the commits beat or equal.
	b.ReportMetric(float64(all[(len(all)*99+99)/100-1].Microseconds()), "p99-µs")
}
