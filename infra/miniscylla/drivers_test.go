package miniscylla_test

import (
	"context"
	"net"
	"os/exec"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gocql/gocql"

	"github.com/outboxnode/outbox/infra/miniscylla"
	"github.com/outboxnode/outbox/infra/miniscylla/miniscyllatest"
	"github.com/outboxnode/outbox/internal/poll"
)

// TestGocqlRoundTrip is the smoke test of the whole stack through the real
// driver, plain and with gocql's snappy compression.
func TestGocqlRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		name string
		comp gocql.Compressor
	}{{"plain", nil}, {"snappy", gocql.SnappyCompressor{}}} {
		t.Run(tc.name, func(t *testing.T) {
			s := miniscyllatest.Start(t, miniscylla.Config{})
			sess := miniscyllatest.Connect(t, s.Addr(), func(c *gocql.ClusterConfig) { c.Compressor = tc.comp })
			miniscyllatest.Exec(t, sess, "CREATE KEYSPACE ks WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}")
			// Cache the keyspace's metadata now: only a pushed SCHEMA_CHANGE
			// event makes gocql see the table created next.
			if _, err := sess.KeyspaceMetadata("ks"); err != nil {
				t.Fatal(err)
			}
			miniscyllatest.Exec(t, sess, "CREATE TABLE ks.kv (k int PRIMARY KEY, v text)")
			big := strings.Repeat("compressible ", 10_000) // 130 kB that compresses far beyond 8:1
			for k, v := range map[int]string{1: "one", 2: big} {
				if err := sess.Query("INSERT INTO ks.kv (k, v) VALUES (?, ?)", k, v).Exec(); err != nil {
					t.Fatal(err)
				}
				var got string
				if err := sess.Query("SELECT v FROM ks.kv WHERE k = ?", k).Scan(&got); err != nil || got != v {
					t.Fatalf("read back %d bytes, want %d: %v", len(got), len(v), err)
				}
			}
			poll.Eventually(t, miniscyllatest.Timeout, poll.True("table metadata", func() bool {
				md, err := sess.TableMetadata("ks", "kv")
				return err == nil && md.Columns["v"] != nil
			}))
			// A session bound to a keyspace sends USE on each pool connection.
			ksSess := miniscyllatest.Connect(t, s.Addr(), func(c *gocql.ClusterConfig) { c.Keyspace = "ks"; c.Compressor = tc.comp })
			var got string
			if err := ksSess.Query("SELECT v FROM kv WHERE k = ?", 1).Scan(&got); err != nil || got != "one" {
				t.Fatalf("unqualified read in keyspace ks: %q, %v", got, err)
			}
		})
	}
}

// TestPythonDriver runs testdata/pydriver_check.py with the DataStax Python
// driver against a fresh server: metadata refresh, DDL (UDT, DESC clustering),
// prepared CRUD, a LOGGED batch, paging, LWT and system.local. A missing driver
// fails the test: CI installs it with `make deps`.
func TestPythonDriver(t *testing.T) {
	const python = "/usr/bin/python3"
	if out, err := exec.Command(python, "-c", "import cassandra.cluster").CombinedOutput(); err != nil {
		t.Fatalf("the DataStax Python driver (Debian python3-cassandra) is missing: run `make deps`.\n%v: %s", err, out)
	}
	s := miniscyllatest.Start(t, miniscylla.Config{})
	host, port, err := net.SplitHostPort(s.Addr())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, python, "testdata/pydriver_check.py", host, port).CombinedOutput()
	if err != nil {
		t.Fatalf("pydriver_check.py: %v\n%s", err, out)
	}
	// The driver may log warnings (protocol downgrade) before the result line.
	if !strings.HasPrefix(string(out), "ok: ") && !strings.Contains(string(out), "\nok: ") {
		t.Fatalf("pydriver_check.py did not finish:\n%s", out)
	}
	t.Logf("%s", out)
}

// benchConcurrency is the number of goroutines sharing one gocql session.
const benchConcurrency = 32

// runConcurrent calls op b.N times from benchConcurrency goroutines and
// reports the rate as unit/s.
func runConcurrent(b *testing.B, unit string, op func(i int64) error) {
	var next atomic.Int64
	var wg sync.WaitGroup
	b.ResetTimer()
	for range benchConcurrency {
		wg.Go(func() {
			for i := next.Add(1); i <= int64(b.N); i = next.Add(1) {
				if err := op(i); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), unit+"/s")
}

// benchSchema is shaped like the node's orders + outbox tables.
var benchSchema = [...]string{
	"CREATE KEYSPACE bench WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}",
	"CREATE TABLE bench.orders (order_id bigint PRIMARY KEY, status text, version int)",
	"CREATE TABLE bench.outbox (aggregate_id bigint, event_id timeuuid, event_type text, payload blob, " +
		"PRIMARY KEY ((aggregate_id), event_id)) WITH cdc = {'enabled': true}",
}

// createBenchSchema creates benchSchema through sess.
func createBenchSchema(tb testing.TB, sess *gocql.Session) {
	tb.Helper()
	for _, stmt := range benchSchema {
		miniscyllatest.Exec(tb, sess, stmt)
	}
}

func BenchmarkPreparedInsert(b *testing.B) {
	sess := miniscyllatest.Connect(b, miniscyllatest.Start(b, miniscylla.Config{}).Addr())
	createBenchSchema(b, sess)
	runConcurrent(b, "inserts", func(i int64) error {
		return sess.Query("INSERT INTO bench.orders (order_id, status, version) VALUES (?, ?, ?)", i, "CREATED", 1).Exec()
	})
}

func BenchmarkLoggedBatch(b *testing.B) {
	sess := miniscyllatest.Connect(b, miniscyllatest.Start(b, miniscylla.Config{}).Addr())
	createBenchSchema(b, sess)
	payload := make([]byte, 200)
	runConcurrent(b, "batches", func(i int64) error {
		batch := sess.Batch(gocql.LoggedBatch)
		batch.Query("INSERT INTO bench.orders (order_id, status, version) VALUES (?, ?, ?)", i, "CREATED", 1)
		batch.Query("INSERT INTO bench.outbox (aggregate_id, event_id, event_type, payload) VALUES (?, ?, ?, ?)",
			i, gocql.TimeUUID(), "OrderCreated", payload)
		return sess.ExecuteBatch(batch)
	})
}

// TestCloseUnderLoad closes the server while 32 goroutines write through
// gocql: Close must return, the writers must see errors rather than hang,
// and no goroutine of the server may survive.
func TestCloseUnderLoad(t *testing.T) {
	base := runtime.NumGoroutine()
	s, err := miniscylla.Start(context.Background(), miniscylla.Config{Addr: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	sess := miniscyllatest.Connect(t, s.Addr(), func(c *gocql.ClusterConfig) { c.Timeout = time.Second })
	createBenchSchema(t, sess)
	var done atomic.Int64
	var wg sync.WaitGroup
	for g := range benchConcurrency {
		wg.Go(func() {
			for i := int64(g); ; i += benchConcurrency {
				if err := sess.Query("INSERT INTO bench.orders (order_id, status, version) VALUES (?, ?, ?)", i, "CREATED", 1).Exec(); err != nil {
					return
				}
				done.Add(1)
			}
		})
	}
	poll.Eventually(t, miniscyllatest.Timeout, poll.True("writes in flight", func() bool { return done.Load() > 1000 }))
	if err := s.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	wg.Wait()
	sess.Close()
	poll.Eventually(t, miniscyllatest.Timeout, poll.True("goroutines back to baseline", func() bool { return runtime.NumGoroutine() <= base }))
}
