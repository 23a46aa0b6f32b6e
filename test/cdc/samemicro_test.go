package cdc_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gocql/gocql"
	scyllacdc "github.com/scylladb/scylla-cdc-go"

	"github.com/outboxnode/outbox/infra/miniscylla/miniscyllatest"
	"github.com/outboxnode/outbox/internal/poll"
)

// TestChangesInOneMicrosecondAreAllDelivered writes hundreds of partitions,
// several per stream, with one explicit write timestamp: every change gets
// its own cdc$time in that microsecond, and the reader, which skips a
// change not after its stream's progress, must still deliver all of them.
func TestChangesInOneMicrosecondAreAllDelivered(t *testing.T) {
	const n = 300
	s, ks := startServer(t)
	miniscyllatest.Exec(t, s, inKeyspace(ks, "CREATE KEYSPACE {ks} WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}"))
	miniscyllatest.Exec(t, s, inKeyspace(ks, "CREATE TABLE {ks}.t (pk int PRIMARY KEY, v int) WITH cdc = {'enabled': true}"))
	insert := "INSERT INTO " + ks + ".t (pk, v) VALUES (?, 1) USING TIMESTAMP ?"

	ts := time.Now().UnixMicro()
	batch := s.Batch(gocql.UnloggedBatch)
	for pk := 0; pk < n/2; pk++ {
		batch.Query(insert, pk, ts)
	}
	if err := s.ExecuteBatch(batch); err != nil {
		t.Fatal(err)
	}
	for pk := n / 2; pk < n; pk++ {
		miniscyllatest.Exec(t, s, insert, pk, ts)
	}

	var consumed atomic.Int64
	var wrongTime atomic.Int64
	r := startReader(t, &scyllacdc.ReaderConfig{
		Session: s, TableNames: []string{ks + ".t"}, Advanced: fastReader(),
		ChangeConsumerFactory: scyllacdc.MakeChangeConsumerFactoryFromFunc(func(_ context.Context, _ string, ch scyllacdc.Change) error {
			if ch.GetCassandraTimestamp() != ts {
				wrongTime.Add(1)
			}
			consumed.Add(1)
			return nil
		}),
	})
	poll.Eventually(t, time.Minute, poll.True("all changes", func() bool { return consumed.Load() >= n }))
	r.stop(t)
	if got := consumed.Load(); got != n {
		t.Fatalf("consumed %d changes, want %d", got, n)
	}
	if wrongTime.Load() != 0 {
		t.Fatalf("%d changes whose cdc$time is not the write timestamp", wrongTime.Load())
	}
}
