package engine

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/datastax/go-cassandra-native-protocol/message"

	"github.com/outboxnode/outbox/infra/miniscylla/cdc"
)

// eventLog records the schema change events an engine reports.
type eventLog struct {
	mu     sync.Mutex
	events []string
}

func (l *eventLog) record(ev *message.SchemaChangeEvent) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.events = append(l.events, fmt.Sprintf("%s %s", ev.ChangeType, ev.Object))
}

func (l *eventLog) take() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := l.events
	l.events = nil
	return out
}

func mustRows(t *testing.T, m message.Message) [][][]byte {
	t.Helper()
	rows, ok := m.(*message.RowsResult)
	if !ok {
		t.Fatalf("want rows, got %v", m)
	}
	out := make([][][]byte, len(rows.Data))
	copy(out, rows.Data)
	return out
}

func TestCDCTableLifecycle(t *testing.T) {
	events := &eventLog{}
	e, err := New(Config{OnSchemaChange: events.record})
	if err != nil {
		t.Fatal(err)
	}
	sess := &Session{}
	run := func(q string) message.Message {
		t.Helper()
		res := e.Handle(context.Background(), sess, &message.Query{Query: q, Options: &message.QueryOptions{}})
		if isError(res) {
			t.Fatalf("%s: %v", q, res)
		}
		return res
	}
	run(`CREATE KEYSPACE ks WITH replication = {'class': 'NetworkTopologyStrategy', 'replication_factor': 1}`)
	run(`USE ks`)
	events.take()

	run(`CREATE TABLE t (pk int, ck int, v int, PRIMARY KEY (pk, ck)) WITH cdc = {'enabled': true, 'preimage': 'full'}`)
	if got := events.take(); !slices.Equal(got, []string{"CREATED t", "CREATED t_scylla_cdc_log"}) {
		t.Fatalf("CREATE events %v", got)
	}
	rows := mustRows(t, run(`SELECT partitioner FROM system_schema.scylla_tables WHERE keyspace_name = 'ks' AND table_name = 't_scylla_cdc_log'`))
	if len(rows) != 1 || string(rows[0][0]) != cdcPartitioner {
		t.Fatalf("log partitioner %q", rows)
	}
	// The extension is normalised and complete: the TTL default is there.
	ext := e.keyspaces["ks"].Tables["t"].extensions()[cdc.ExtensionKey]
	m, err := cdc.DecodeStringMap(ext)
	if err != nil || m["ttl"] != "86400" || m["preimage"] != "full" || m["enabled"] != "true" {
		t.Fatalf("extension %v, %v", m, err)
	}

	run(`ALTER TABLE t ADD w list<int>`)
	if got := events.take(); !slices.Equal(got, []string{"UPDATED t", "UPDATED t_scylla_cdc_log"}) {
		t.Fatalf("ALTER ADD events %v", got)
	}
	logTable := e.keyspaces["ks"].Tables["t_scylla_cdc_log"]
	for _, c := range []string{"w", "cdc$deleted_w", "cdc$deleted_elements_w"} {
		if logTable.Column(c) == nil {
			t.Errorf("log table lacks %s after ALTER ADD", c)
		}
	}

	run(`CREATE TABLE plain (pk int PRIMARY KEY, v int)`)
	events.take()
	run(`ALTER TABLE plain WITH cdc = {'enabled': true}`)
	if got := events.take(); !slices.Equal(got, []string{"UPDATED plain", "CREATED plain_scylla_cdc_log"}) {
		t.Fatalf("ALTER WITH cdc events %v", got)
	}
	run(`ALTER TABLE plain WITH cdc = {'enabled': false}`)
	if got := events.take(); !slices.Equal(got, []string{"UPDATED plain"}) {
		t.Fatalf("disabling ALTER events %v", got)
	}
	if e.keyspaces["ks"].Tables["plain_scylla_cdc_log"] == nil {
		t.Fatal("disabling CDC dropped the log table")
	}

	run(`DROP TABLE t`)
	if got := events.take(); !slices.Equal(got, []string{"DROPPED t", "DROPPED t_scylla_cdc_log"}) {
		t.Fatalf("DROP events %v", got)
	}
	res := e.Handle(context.Background(), sess, &message.Query{Query: `SELECT * FROM t_scylla_cdc_log`})
	if inv, ok := res.(*message.Invalid); !ok || !strings.Contains(inv.ErrorMessage, "unconfigured table") {
		t.Fatalf("select from dropped log: %v", res)
	}
}

func TestCDCBadOptionsRejected(t *testing.T) {
	e, sess := newTestEngine(t)
	for _, q := range []string{
		`CREATE TABLE a (pk int PRIMARY KEY, v int) WITH cdc = {'enabled': 'maybe'}`,
		`CREATE TABLE b (pk int PRIMARY KEY, v int) WITH cdc = {'enabled': true, 'ttl': -5}`,
		`CREATE TABLE c (pk int PRIMARY KEY, v int) WITH cdc = {'enabled': true, 'colour': 'blue'}`,
	} {
		if res := query(e, sess, q); !isError(res) {
			t.Errorf("%s: accepted", q)
		}
	}
	if res := query(e, sess, `CREATE TABLE n (pk int PRIMARY KEY, c counter) WITH cdc = {'enabled': true}`); !isError(res) {
		t.Error("CDC on a counter table accepted")
	}
	// A user table already has the log table's name.
	query(e, sess, `CREATE TABLE d_scylla_cdc_log (pk int PRIMARY KEY)`)
	if res := query(e, sess, `CREATE TABLE d (pk int PRIMARY KEY, v int) WITH cdc = {'enabled': true}`); !isError(res) {
		t.Error("CDC log replaced a user table")
	}
	for _, name := range []string{"a", "b", "c", "n", "d", "a_scylla_cdc_log", "n_scylla_cdc_log"} {
		if e.keyspaces["ks"].Tables[name] != nil {
			t.Errorf("table %s exists after a rejected CREATE", name)
		}
	}
}

func TestCDCGenerationTables(t *testing.T) {
	e, sess := newTestEngine(t)
	rows := mustRows(t, query(e, sess, `SELECT time FROM system_distributed.cdc_generation_timestamps WHERE key = 'timestamps'`))
	if len(rows) != 1 {
		t.Fatalf("%d generation timestamps, want 1", len(rows))
	}
	gen := e.cdc.log.Generation()
	if !gen.Time.Before(e.started) {
		t.Fatalf("generation %v not before the engine start %v", gen.Time, e.started)
	}
	rows = mustRows(t, query(e, sess, `SELECT range_end, streams FROM system_distributed.cdc_streams_descriptions_v2 WHERE time = ?`, rows[0][0]))
	if len(rows) != cdcVnodes {
		t.Fatalf("%d stream rows, want %d", len(rows), cdcVnodes)
	}
	for i, r := range rows {
		if want := cdc.EncodeBlobSet(gen.Vnodes[i].Streams); string(r[1]) != string(want) {
			t.Errorf("vnode %d streams differ", i)
		}
	}
	if rows := mustRows(t, query(e, sess, `SELECT * FROM system_schema.scylla_keyspaces WHERE keyspace_name = 'ks'`)); len(rows) != 0 {
		t.Errorf("vnode keyspace has a scylla_keyspaces row: %v", rows)
	}
}
