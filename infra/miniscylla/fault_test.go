package miniscylla_test

import (
	"strings"
	"testing"

	"github.com/gocql/gocql"

	"github.com/outboxnode/outbox/infra/miniscylla"
	"github.com/outboxnode/outbox/infra/miniscylla/miniscyllatest"
)

// TestFailWritesRefusesWholeLoggedBatch makes the second statement of a
// LOGGED BATCH fail at the server: the batch reaches the server (the fault
// counts it), fails as a whole, and neither table nor the first table's CDC
// log holds a row. A write to the first table alone still applies, and
// once healed the same batch applies both rows.
func TestFailWritesRefusesWholeLoggedBatch(t *testing.T) {
	srv := miniscyllatest.Start(t, miniscylla.Config{})
	sess := miniscyllatest.Connect(t, srv.Addr())
	miniscyllatest.Exec(t, sess, "CREATE KEYSPACE ks WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}")
	miniscyllatest.Exec(t, sess, "CREATE TABLE ks.first (id int PRIMARY KEY, v text) WITH cdc = {'enabled': true}")
	miniscyllatest.Exec(t, sess, "CREATE TABLE ks.second (id int PRIMARY KEY, v text)")
	count := func(table string) int {
		t.Helper()
		var n int
		if err := sess.Query("SELECT COUNT(*) FROM ks." + table).Scan(&n); err != nil {
			t.Fatalf("count %s: %v", table, err)
		}
		return n
	}
	batch := func() error {
		b := sess.Batch(gocql.LoggedBatch)
		b.Query("INSERT INTO ks.first (id, v) VALUES (?, ?)", 1, "a")
		b.Query("INSERT INTO ks.second (id, v) VALUES (?, ?)", 1, "b")
		return sess.ExecuteBatch(b)
	}

	srv.FailWrites("ks", "second")
	if err := batch(); err == nil || !strings.Contains(err.Error(), "injected fault") {
		t.Fatalf("batch with a failing second statement: %v, want the injected fault", err)
	}
	if got := srv.FailedWrites(); got != 1 {
		t.Fatalf("FailedWrites = %d, want 1 (the batch reached the server once)", got)
	}
	for _, table := range []string{"first", "second", "first_scylla_cdc_log"} {
		if n := count(table); n != 0 {
			t.Fatalf("%s has %d rows after the failed batch, want 0", table, n)
		}
	}

	miniscyllatest.Exec(t, sess, "INSERT INTO ks.first (id, v) VALUES (?, ?)", 2, "alone")
	if n := count("first"); n != 1 {
		t.Fatalf("a write to the healthy table alone: first has %d rows, want 1", n)
	}

	srv.HealWrites()
	if err := batch(); err != nil {
		t.Fatalf("batch after HealWrites: %v", err)
	}
	if a, b := count("first"), count("second"); a != 2 || b != 1 {
		t.Fatalf("after the healed batch: first %d rows, second %d, want 2 and 1", a, b)
	}
}
