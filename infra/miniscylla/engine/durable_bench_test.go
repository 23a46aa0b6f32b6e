package engine

import (
	"fmt"
	"log/slog"
	"testing"
)

// BenchmarkRecovery measures start-up replay: an engine reopens a data dir
// whose log holds 20,000 single-row writes to a CDC table (so 40,000
// mutations) and reports the records replayed per second.
func BenchmarkRecovery(b *testing.B) {
	const rows = 20000
	dir := b.TempDir()
	quiet := slog.New(slog.DiscardHandler)
	e, err := New(Config{DataDir: dir, Logger: quiet})
	if err != nil {
		b.Fatal(err)
	}
	sess := &Session{}
	for _, q := range []string{
		`CREATE KEYSPACE ks WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}`, `USE ks`,
		`CREATE TABLE t (k int, c int, v text, PRIMARY KEY (k, c)) WITH cdc = {'enabled': true}`,
	} {
		if res := query(e, sess, q); isError(res) {
			b.Fatalf("%s: %v", q, res)
		}
	}
	for i := range rows {
		if res := query(e, sess, fmt.Sprintf(`INSERT INTO t (k, c, v) VALUES (%d, %d, 'value %d')`, i%500, i, i)); isError(res) {
			b.Fatal(res)
		}
	}
	if err := e.Close(); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for b.Loop() {
		r, err := New(Config{DataDir: dir, Logger: quiet})
		if err != nil {
			b.Fatal(err)
		}
		if err := r.Close(); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(rows)*float64(b.N)/b.Elapsed().Seconds(), "records/s")
}
