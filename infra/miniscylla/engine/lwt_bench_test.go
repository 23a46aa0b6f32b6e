package engine_test

import (
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gocql/gocql"

	"github.com/outboxnode/outbox/infra/miniscylla"
	"github.com/outboxnode/outbox/infra/miniscylla/miniscyllatest"
)

// lwtWorkers is the number of concurrent clients of
// BenchmarkLWTDistinctPartitions: the command path's concurrency.
const lwtWorkers = 64

// BenchmarkLWTDistinctPartitions measures the command path the project puts
// on LWTs: a conditional batch that moves an order's version (a static
// column) by compare-and-set and adds the order's event (a clustering row of
// the same partition), from lwtWorkers clients that each own one order, so
// that no two LWTs contend for a partition. It reports commits per second
// and the 99th percentile latency, in memory and with a write-ahead log,
// and in memory with the table's CDC log on and the event written with a
// TTL, as cluster mode's outbox shard tables are (006_outbox_shards.cql).
func BenchmarkLWTDistinctPartitions(b *testing.B) {
	for _, bc := range []struct {
		name         string
		durable, cdc bool
	}{{"memory", false, false}, {"durable", true, false}, {"memory-cdc", false, true}} {
		b.Run(bc.name, func(b *testing.B) {
			cfg := miniscylla.Config{}
			if bc.durable {
				cfg.DataDir = b.TempDir()
			}
			benchLWTCommits(b, cfg, bc.cdc)
		})
	}
}

// lwtTable is the table of BenchmarkLWTDistinctPartitions, without its
// WITH options; eventInsert writes an event without its USING clause.
const (
	lwtTable    = `CREATE TABLE ks.orders (id uuid, ev timeuuid, version bigint static, status text static, payload blob, PRIMARY KEY (id, ev))`
	eventInsert = `INSERT INTO ks.orders (id, ev, payload) VALUES (?, ?, ?)`
)

func benchLWTCommits(b *testing.B, cfg miniscylla.Config, cdc bool) {
	s := miniscyllatest.Connect(b, miniscyllatest.Start(b, cfg).Addr(), func(c *gocql.ClusterConfig) { c.NumConns = 4 })
	table, insert := lwtTable, eventInsert
	if cdc {
		table += ` WITH cdc = {'enabled': true, 'ttl': 86400}`
		insert += ` USING TTL 86400`
	}
	for _, q := range []string{
		`CREATE KEYSPACE ks WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}`, table,
	} {
		miniscyllatest.Exec(b, s, q)
	}
	var (
		next      atomic.Int64
		wg        sync.WaitGroup
		latencies = make([][]time.Duration, lwtWorkers)
	)
	b.ResetTimer()
	for w := range lwtWorkers {
		wg.Go(func() {
			var err error
			latencies[w], err = commitOrders(s, insert, &next, int64(b.N))
			if err != nil {
				b.Error(err)
			}
		})
	}
	wg.Wait()
	b.StopTimer()
	all := slices.Concat(latencies...)
	if len(all) == 0 {
		b.Fatal("no conditional batch committed")
	}
	slices.Sort(all)
	b.ReportMetric(float64(len(all))/b.Elapsed().Seconds(), "commits/s")
	b.ReportMetric(float64(all[len(all)*99/100].Microseconds())/1000, "p99-ms")
}

// commitOrders commits the next versions of one order, one conditional batch
// per operation, while next stays within n, and returns their latencies;
// insert writes the event.
func commitOrders(s *gocql.Session, insert string, next *atomic.Int64, n int64) ([]time.Duration, error) {
	id := gocql.MustRandomUUID()
	payload := make([]byte, 200)
	var (
		version   *int64 // null before the first commit
		latencies []time.Duration
	)
	for next.Add(1) <= n {
		v := int64(1)
		if version != nil {
			v = *version + 1
		}
		batch := s.Batch(gocql.LoggedBatch)
		batch.Query(`UPDATE ks.orders SET version = ?, status = ? WHERE id = ? IF version = ?`, v, "PAID", id, version)
		batch.Query(insert, id, gocql.TimeUUID(), payload)
		start := time.Now()
		applied, iter, err := s.MapExecuteBatchCAS(batch, map[string]any{})
		if err == nil {
			err = iter.Close()
		}
		if err != nil {
			return latencies, fmt.Errorf("commit version %d: %w", v, err)
		}
		latencies = append(latencies, time.Since(start))
		if !applied {
			return latencies, fmt.Errorf("commit version %d of an order no one else writes was not applied", v)
		}
		version = &v
	}
	return latencies, nil
}
