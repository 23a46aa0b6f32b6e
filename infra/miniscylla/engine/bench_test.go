package engine_test

import (
	"sync/atomic"
	"testing"

	"github.com/gocql/gocql"

	"github.com/outboxnode/outbox/infra/miniscylla"
	"github.com/outboxnode/outbox/infra/miniscylla/miniscyllatest"
)

// benchParallel runs op from 32 goroutines, as the wire benchmark does.
func benchParallel(b *testing.B, op func(s *gocql.Session, i int64) error) {
	s := miniscyllatest.Connect(b, miniscyllatest.Start(b, miniscylla.Config{}).Addr())
	for _, q := range []string{
		`CREATE KEYSPACE ks WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}`,
		`CREATE TABLE ks.orders (id uuid PRIMARY KEY, status text, version int)`,
		`CREATE TABLE ks.outbox (agg uuid, ev timeuuid, payload blob, PRIMARY KEY (agg, ev))`,
	} {
		miniscyllatest.Exec(b, s, q)
	}
	var n atomic.Int64
	b.SetParallelism(16) // 2 cores x 16 = 32 goroutines
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := op(s, n.Add(1)); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "ops/s")
}

func BenchmarkPreparedInsert(b *testing.B) {
	benchParallel(b, func(s *gocql.Session, i int64) error {
		return s.Query(`INSERT INTO ks.orders (id, status, version) VALUES (?, ?, ?)`, gocql.MustRandomUUID(), "CREATED", int(i)).Exec()
	})
}

func BenchmarkLoggedBatch(b *testing.B) {
	payload := make([]byte, 200)
	benchParallel(b, func(s *gocql.Session, i int64) error {
		id := gocql.MustRandomUUID()
		batch := s.Batch(gocql.LoggedBatch)
		batch.Query(`INSERT INTO ks.orders (id, status, version) VALUES (?, ?, ?)`, id, "CREATED", 1)
		batch.Query(`INSERT INTO ks.outbox (agg, ev, payload) VALUES (?, ?, ?)`, id, gocql.TimeUUID(), payload)
		return s.ExecuteBatch(batch)
	})
}

func BenchmarkPreparedPointSelect(b *testing.B) {
	benchParallel(b, func(s *gocql.Session, i int64) error {
		// Every 10th operation writes, so reads find rows and contend with writes.
		id := gocql.UUID{15: byte(i % 64)}
		if i%10 == 0 {
			return s.Query(`INSERT INTO ks.orders (id, status, version) VALUES (?, ?, ?)`, id, "CREATED", int(i)).Exec()
		}
		var status string
		if err := s.Query(`SELECT status FROM ks.orders WHERE id = ?`, id).Scan(&status); err != gocql.ErrNotFound {
			return err
		}
		return nil
	})
}
