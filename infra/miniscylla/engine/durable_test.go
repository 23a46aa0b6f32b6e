package engine

import (
	"bytes"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
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
	copy(out, rows.Data)
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
	`SELECT * FROM ks.wide`,
	`SELECT p, c, writetime(v), ttl(v) FROM ks.wide`,
	`SELECT * FROM system_distributed.cdc_generation_timestamps`,
	`SELECT * FROM system_distributed.cdc_streams_descriptions_v2`,
	`SELECT table_name, column_name FROM system_schema.columns WHERE keyspace_name = 'ks'`,
}

// durableWorkload covers every kind of stored state: schema changes, a
// truncate, collections and their element operations, TTLs, batches, CDC
// with images, row, range and partition deletions, static columns, LWT.
var durableWorkload = []string{
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
	`CREATE TABLE wide (p int, c int, s text static, v text, tags set<text>, m map<text, int>, PRIMARY KEY (p, c))`,
	`INSERT INTO wide (p, c, s, v, tags, m) VALUES (1, 1, 'static', 'v1', {'a', 'b'}, {'x': 1})`,
	`INSERT INTO wide (p, c, v) VALUES (1, 2, 'v2') USING TTL 5000`,
	`INSERT INTO wide (p, c, v) VALUES (1, 3, 'v3')`,
	`INSERT INTO wide (p, c, v) VALUES (1, 4, 'v4')`,
	`UPDATE wide SET tags = tags - {'a'}, m['y'] = 2 WHERE p = 1 AND c = 1`,
	`UPDATE wide SET tags = {'fresh'} WHERE p = 1 AND c = 2`,
	`DELETE FROM wide WHERE p = 1 AND c >= 3 AND c < 4`,
	`INSERT INTO wide (p, c, v) VALUES (2, 1, 'gone')`,
	`DELETE FROM wide WHERE p = 2`,
	`INSERT INTO wide (p, c, v) VALUES (2, 2, 'after the partition delete')`,
	`UPDATE kv SET l = l - [2], v = null WHERE k = 'a'`,
	`UPDATE kv SET l[0] = 10 WHERE k = 'a'`,
}

func TestDurableRecoversEverything(t *testing.T) {
	dir := t.TempDir()
	clock := &fakeClock{now: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	e := openDurableEngine(t, dir, clock)
	mustRun(t, e, &Session{}, durableWorkload...)
	want := readAll(t, e)
	if len(want[3]) == 0 {
		t.Fatal("no CDC log rows were written")
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}

	// Same clock: a new generation would still differ in its random streams.
	r := openDurableEngine(t, dir, clock)
	sameReads(t, "after restart", readAll(t, r), want)
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

func readAll(t *testing.T, e *Engine) [][][][]byte {
	t.Helper()
	out := make([][][][]byte, len(durableReads))
	for i, q := range durableReads {
		out[i] = selectRows(t, e, q)
	}
	return out
}

func sameReads(t *testing.T, when string, got, want [][][][]byte) {
	t.Helper()
	for i, q := range durableReads {
		if !reflect.DeepEqual(got[i], want[i]) {
			t.Errorf("%s %s:\n got %q\nwant %q", q, when, got[i], want[i])
		}
	}
}

// TestCheckpointKeepsEveryRead forces a checkpoint at every write of the
// workload: the log then holds the state, not the history, and a restart
// still reads exactly what the writing engine read.
func TestCheckpointKeepsEveryRead(t *testing.T) {
	dir := t.TempDir()
	clock := &fakeClock{now: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	// Only this goroutine logs: requests run in it, the flusher logs only failures.
	var logs bytes.Buffer
	e, err := New(Config{DataDir: dir, Now: clock.Now, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	sess := &Session{}
	for _, q := range durableWorkload {
		e.mu.Lock()
		e.dur.checkpointAt, e.dur.minCheckpoint = 1, 1
		e.mu.Unlock()
		mustRun(t, e, sess, q)
	}
	want := readAll(t, e)
	if n := strings.Count(logs.String(), "checkpoint written"); n < 10 {
		t.Fatalf("%d checkpoints written, want one per write:\n%s", n, logs.String())
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	r := openDurableEngine(t, dir, clock)
	sameReads(t, "after checkpoints and a restart", readAll(t, r), want)
	r.Close()
	// The log is the state, not the history: the generation, the schema
	// changes, and the data in one record (the last write checkpointed).
	kinds := map[byte]int{}
	l, err := wal.Open(dir, wal.Options{}, func(p []byte) error { kinds[p[0]]++; return nil })
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if want := map[byte]int{recGeneration: 1, recDDL: 7, recWrite: 1}; !reflect.DeepEqual(kinds, want) {
		t.Errorf("records by kind after checkpoints = %v, want %v", kinds, want)
	}
}

// FuzzReplayRecord feeds arbitrary checksummed records to a fresh engine's
// replay: each is applied or rejected with ErrBadRecord, never a panic.
func FuzzReplayRecord(f *testing.F) {
	f.Add(encodeGeneration(1, 2), true)
	f.Add(encodeDDL("", `CREATE KEYSPACE ks WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}`), false)
	f.Add(encodeWrite(1, []Mutation{{Keyspace: "system", Table: "local", Key: []byte("local"),
		Rows: []RowWrite{{TS: 1, Cells: []CellWrite{{Column: "x", Op: CellListIndex, Key: []byte{1}}}}}}}), false)
	f.Fuzz(func(t *testing.T, rec []byte, first bool) {
		e, err := New(Config{})
		if err != nil {
			t.Fatal(err)
		}
		if err := e.replay(rec, first); err != nil && !errors.Is(err, ErrBadRecord) {
			t.Fatalf("replay error %v is not ErrBadRecord", err)
		}
	})
}

// gatedLog is a walLog whose waits for records appended after it was
// installed (from on) block until the test opens the gate.
type gatedLog struct {
	walLog
	from    uint64
	waiting chan struct{} // one send per wait that started blocking
	gate    chan struct{}
}

func newGatedLog(e *Engine) *gatedLog {
	e.mu.Lock()
	defer e.mu.Unlock()
	g := &gatedLog{walLog: e.dur.wal, from: e.dur.wal.Appended() + 1, waiting: make(chan struct{}, 2), gate: make(chan struct{})}
	e.dur.wal = g
	return g
}

func (g *gatedLog) Sync() error { return g.SyncTo(allRecords) }

func (g *gatedLog) SyncTo(n uint64) error {
	if min(n, g.Appended()) >= g.from {
		g.waiting <- struct{}{}
		<-g.gate
	}
	return g.walLog.SyncTo(n)
}

// TestNothingIsSeenBeforeItIsDurable: while a write's fsync is pending,
// neither its writer nor a reader that could see it gets an answer.
func TestNothingIsSeenBeforeItIsDurable(t *testing.T) {
	e := openDurableEngine(t, t.TempDir(), &fakeClock{now: time.Now()})
	defer e.Close()
	sess := &Session{}
	mustRun(t, e, sess, durableWorkload[:3]...) // keyspace, USE, table kv
	g := newGatedLog(e)

	wrote, read := make(chan message.Message, 1), make(chan message.Message, 1)
	go func() { wrote <- query(e, sess, `INSERT INTO kv (k, v) VALUES ('pending', 'x')`) }()
	<-g.waiting // the write applied and appended, and waits for its fsync
	go func() { read <- query(e, sess, `SELECT v FROM kv WHERE k = 'pending'`) }()
	select {
	case <-g.waiting: // the read found the row and waits for the same fsync
	case m := <-read:
		t.Fatalf("read answered before what it saw was durable: %v", m)
	}
	select {
	case m := <-wrote:
		t.Fatalf("write answered before its fsync: %v", m)
	default:
	}
	close(g.gate)
	if m := <-wrote; isError(m) {
		t.Fatalf("write: %v", m)
	}
	if rows, ok := (<-read).(*message.RowsResult); !ok || len(rows.Data) != 1 || string(rows.Data[0][0]) != "x" {
		t.Fatalf("read after the fsync: %v", rows)
	}
}

// TestSettledReadSkipsPendingFsync: a read that looks only at durable rows
// answers while an unrelated write's fsync is pending, in another partition
// or in another row of the same partition; one that looks at the pending
// row still waits.
func TestSettledReadSkipsPendingFsync(t *testing.T) {
	e := openDurableEngine(t, t.TempDir(), &fakeClock{now: time.Now()})
	defer e.Close()
	sess := &Session{}
	mustRun(t, e, sess, durableWorkload[:4]...) // keyspace, USE, tables kv and events
	mustRun(t, e, sess, `INSERT INTO kv (k, v) VALUES ('settled', 'x')`, `INSERT INTO events (agg, seq, body) VALUES (1, 1, 'old')`)
	g := newGatedLog(e)
	openGate := sync.OnceFunc(func() { close(g.gate) })
	defer openGate()

	wrote := make(chan message.Message, 1)
	go func() { wrote <- query(e, sess, `INSERT INTO events (agg, seq, body) VALUES (1, 2, 'new')`) }()
	<-g.waiting // appended, waiting for its fsync
	read := make(chan message.Message, 1)
	for _, q := range []string{
		`SELECT v FROM kv WHERE k = 'settled'`,
		`SELECT body FROM events WHERE agg = 1 AND seq = 1`,
		`SELECT body FROM events WHERE agg = 1 AND seq < 2`,
	} {
		go func() { read <- query(e, sess, q) }()
		select {
		case <-g.waiting:
			t.Fatalf("%s waits for the fsync of a write it does not see", q)
		case m := <-read:
			if rows, ok := m.(*message.RowsResult); !ok || len(rows.Data) != 1 {
				t.Fatalf("%s: %v", q, m)
			}
		}
	}
	go func() { read <- query(e, sess, `SELECT body FROM events WHERE agg = 1`) }()
	select {
	case <-g.waiting: // the read saw the pending row and waits for its fsync
	case m := <-read:
		t.Fatalf("read answered before the row it saw was durable: %v", m)
	}
	openGate()
	if m := <-wrote; isError(m) {
		t.Fatalf("write: %v", m)
	}
	if rows, ok := (<-read).(*message.RowsResult); !ok || len(rows.Data) != 2 {
		t.Fatalf("read after the fsync: %v", rows)
	}
}
