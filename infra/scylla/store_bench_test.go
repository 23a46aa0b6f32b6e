package scylla_test

import (
	"testing"

	"github.com/google/uuid"

	"github.com/outboxnode/outbox/actors/orders"
)

// BenchmarkStoreCommit measures Store.Commit (one LOGGED BATCH of an
// orders row and an outbox row with CDC) from parallel goroutines against
// miniscylla over the loopback.
func BenchmarkStoreCommit(b *testing.B) {
	_, _, store := startStore(b)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := store.Commit(b.Context(), change(b, uuid.New(), 1, orders.StatusCreated)); err != nil {
				b.Errorf("Commit: %v", err)
				return
			}
		}
	})
}
