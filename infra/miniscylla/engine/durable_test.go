package engine

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/datastax/go-cassandra-native-protocol/message"

	"github.com/outboxnode/outbox/infra/miniscylla/wal"
)

func openDurableEngine(t *testing.T, dir string, clock *fakeClock) *Engine {
	t.Helper()
	e, err := New(Config{DataDir: dir, Now: clock.Now})
	if err != nil {
		t.Fatalf("open engine on %s: %v", dir, err)
	}
	return e
}

func mustRun(t *testing.T, e *Engine, sess *Session, qs ...string) {
	t.Helper()
	for _, q := range qs {
		if res := query(e, sess, q); isError(res) {
			t.Fatalf("%s: %v", q, res)
		}
	}
}

func selectRows(t *testing.T, e *Engine, q string) [][][]byte {
	t.Helper()
	res := query(e, &Session{Keyspace: "ks"}, q)
	rows, ok := res.(*message.RowsResult)
	if !ok {
		t.Fatalf("%s: %v", q, res)
	}
	out := make([][][]byte, len(rows.Data))
	for i, r := range rows.Data {
		out[i] = r
	}
	return out
}

// durableReads are compared between the engine that wrote and the one that
// recovered: data, TTLs, write times, CDC log rows and the CDC generation.
var durableReads = []string{
	`SELECT * FROM ks.kv`,
	`SELECT k, ttl(v), writetime(v) FROM ks.kv`,
	`SELECT * FROM ks.events`,
	`SELECT * FROM ks.events_scylla_cdc_log`,
	`SELECT * FROM ks.wiped`,
	`SELECT * FROM system_distributed.cdc_generation_timestamps`,
	`SELECT * FROM system_distributed.cdc_streams_descriptions_v2`,
	`SELECT table_name, column_name FROM system_schema.columns WHERE keyspace_name = 'ks'`,
}

func TestDurableRecoversEverything(t *testing.T) {
	dir := t.TempDir()
	clock := &fakeClock{now: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	e := openDurableEngine(t, dir, clock)
	sess := &Session{}
	mustRun(t, e, sess,
		`CREATE KEYSPACE ks WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}`, `USE ks`,
		`CREATE TABLE kv (k text PRIMARY KEY, v text, l list<int>)`,
		`CREATE TABLE events (agg int, seq int, body text, PRIMARY KEY (agg, seq)) WITH cdc = {'enabled': true, 'preimage': true, 'postimage': true}`,
		`ALTER TABLE kv ADD extra int`,
		`CREATE TABLE wiped (k int PRIMARY KEY)`,
		`INSERT INTO wiped (k) VALUES (1)`,
		`TRUNCATE wiped`,
		`INSERT INTO kv (k, v, l, extra) VALUES ('a', 'x', [1, 2], 7)`,
		`INSERT INTO kv (k, v) VALUES ('empty', '')`,
		`UPDATE kv SET l = l + [3] WHERE k = 'a'`,
		`INSERT INTO kv (k, v) VALUES ('short', 'gone soon') USING TTL 10`,
		`INSERT INTO kv (k, v) VALUES ('long', 'stays') USING TTL 100000`,
		`BEGIN BATCH INSERT INTO events (agg, seq, body) VALUES (1, 1, 'one'); INSERT INTO events (agg, seq, body) VALUES (1, 2, 'two'); INSERT INTO kv (k, v) VALUES ('b', 'y'); APPLY BATCH`,
		`UPDATE events SET body = 'uno' WHERE agg = 1 AND seq = 1`,
		`DELETE FROM events WHERE agg = 1 AND seq = 2`,
		`INSERT INTO kv (k, v) VALUES ('lwt', 'first') IF NOT EXISTS`,
	)
	want := make([][][][]byte, len(durableReads))
	for i, q := range durableReads {
		want[i] = selectRows(t, e, q)
	}
	if len(want[3]) == 0 {
		t.Fatal("no CDC log rows were written")
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}

	// Same clock: a new generation would still differ in its random streams.
	r := openDurableEngine(t, dir, clock)
	for i, q := range durableReads {
		if got := selectRows(t, r, q); !reflect.DeepEqual(got, want[i]) {
			t.Errorf("%s after restart:\n got %q\nwant %q", q, got, want[i])
		}
	}
	// Writes after recovery append to the same log.
	mustRun(t, r, &Session{Keyspace: "ks"}, `INSERT INTO kv (k, v) VALUES ('c', 'z')`)
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}

	clock.advance(2 * time.Minute) // past the 10 s TTL
	r2 := openDurableEngine(t, dir, clock)
	defer r2.Close()
	// Expiry is absolute: the remaining TTL counts the time spent down.
	if ttl := selectRows(t, r2, `SELECT ttl(v) FROM ks.kv WHERE k = 'long'`); len(ttl) != 1 || string(ttl[0][0]) != string(encInt(100000-120)) {
		t.Errorf("ttl(v) of 'long' = %q, want %d", ttl, 100000-120)
	}
	got := map[string]bool{}
	for _, row := range selectRows(t, r2, `SELECT k FROM ks.kv`) {
		got[string(row[0])] = true
	}
	for k, present := range map[string]bool{"a": true, "b": true, "c": true, "empty": true, "long": true, "lwt": true, "short": false} {
		if got[k] != present {
			t.Errorf("row %q present = %v, want %v (rows %v)", k, got[k], present, got)
		}
	}
}

func TestDurableRejectsUndecodableRecord(t *testing.T) {
	dir := t.TempDir()
	e := openDurableEngine(t, dir, &fakeClock{now: time.Now()})
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, wal.FileName)
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	// A well-framed record (its checksum holds) whose payload is nonsense.
	if _, err := f.Write(wal.AppendRecord(nil, []byte{recWrite, 0x02, 0xff})); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := New(Config{DataDir: dir}); !errors.Is(err, ErrBadRecord) {
		t.Fatalf("New = %v, want ErrBadRecord", err)
	}
}

func TestMemoryOnlyWritesNoFiles(t *testing.T) {
	e, sess := newTestEngine(t, `CREATE TABLE t (k int PRIMARY KEY)`)
	mustRun(t, e, sess, `INSERT INTO t (k) VALUES (1)`)
	if e.dur != nil {
		t.Fatal("engine without DataDir opened a write-ahead log")
	}
}

func TestRecordCodecRoundTrip(t *testing.T) {
	m := Mutation{Keyspace: "ks", Table: "t", Key: []byte{}, DeletePartition: true, DeleteTS: -5,
		RangeDeletes: []RangeDelete{{Start: Bound{Prefix: [][]byte{{1}}, Inclusive: true}, End: Bound{}, TS: 9}},
		Rows: []RowWrite{{Clustering: [][]byte{{}, {2}}, Static: true, Delete: true, Marker: true, TS: 1, TTL: 3, ExpiresAt: 4,
			Cells: []CellWrite{{Column: "c", Op: CellElement, Key: []byte("k"), Value: nil}, {Column: "d", Op: CellSet, Value: []byte{}}}}}}
	rec := encodeWrite(42, []Mutation{m})
	d := &recDecoder{b: rec[1:]}
	if now := d.int(); now != 42 {
		t.Fatalf("now = %d", now)
	}
	if n := d.count(); n != 1 {
		t.Fatalf("count = %d", n)
	}
	got := d.mutation()
	if err := d.done(); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, m) {
		t.Fatalf("round trip:\n got %+v\nwant %+v", got, m)
	}
	for i := 1; i < len(rec); i++ {
		d := &recDecoder{b: rec[1:i]}
		d.int()
		for range d.count() {
			d.mutation()
		}
		if d.done() == nil {
			t.Fatalf("truncated record of %d bytes decoded without error", i)
		}
	}
}
