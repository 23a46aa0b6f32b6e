package durability_test

import (
	"context"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gocql/gocql"

	"github.com/outboxnode/outbox/infra/miniscylla"
	"github.com/outboxnode/outbox/test/harness"
)

// benchConcurrency is the number of goroutines writing batches at once.
const benchConcurrency = 32

// BenchmarkLoggedBatch measures LOGGED BATCHes of an order row and its
// outbox event (a CDC table) through gocql with 32 concurrent writers, on a
// memory-only server and on one with a data directory (write-ahead log,
// fsync before every acknowledgement, group commit). It reports batches/s.
func BenchmarkLoggedBatch(b *testing.B) {
	harness.EmbeddedOnly(b, "it measures miniscylla's write-ahead log in process")
	for _, bc := range []struct {
		name    string
		dataDir func() string
	}{
		{"memory", func() string { return "" }},
		{"wal-fsync", b.TempDir},
	} {
		b.Run(bc.name, func(b *testing.B) {
			s := benchSession(b, bc.dataDir())
			var next atomic.Int64
			var wg sync.WaitGroup
			errs := make(chan error, benchConcurrency)
			b.ResetTimer()
			for range benchConcurrency {
				wg.Go(func() {
					for {
						i := next.Add(1)
						if i > int64(b.N) {
							return
						}
						batch := s.Batch(gocql.LoggedBatch)
						id := gocql.TimeUUID()
						batch.Query(`INSERT INTO bench.orders (id, status, version) VALUES (?, ?, ?)`, id, "CREATED", 1)
						batch.Query(`INSERT INTO bench.outbox (aggregate_id, event_id, payload) VALUES (?, ?, ?)`, id, gocql.TimeUUID(), []byte(`{"order":"created"}`))
						if err := batch.Exec(); err != nil {
							errs <- err
							return
						}
					}
				})
			}
			wg.Wait()
			b.StopTimer()
			close(errs)
			for err := range errs {
				b.Fatal(err)
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "batches/s")
		})
	}
}

func benchSession(b *testing.B, dataDir string) *gocql.Session {
	b.Helper()
	srv, err := miniscylla.Start(context.Background(), miniscylla.Config{Addr: "127.0.0.1:0", DataDir: dataDir})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = srv.Close() })
	host, port, _ := net.SplitHostPort(srv.Addr())
	c := gocql.NewCluster(host)
	c.Port, _ = strconv.Atoi(port)
	c.Timeout = 20 * time.Second
	c.NumConns = 2
	s, err := c.CreateSession()
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(s.Close)
	for _, q := range []string{
		`CREATE KEYSPACE bench WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}`,
		`CREATE TABLE bench.orders (id uuid PRIMARY KEY, status text, version int)`,
		`CREATE TABLE bench.outbox (aggregate_id uuid, event_id timeuuid, payload blob, PRIMARY KEY (aggregate_id, event_id)) WITH cdc = {'enabled': true}`,
	} {
		if err := s.Query(q).Exec(); err != nil {
			b.Fatalf("%s: %v", q, err)
		}
	}
	return s
}
