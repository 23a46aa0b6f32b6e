package engine

import (
	"context"
	"strconv"
	"strings"
	"testing"

	"github.com/datastax/go-cassandra-native-protocol/message"
	"github.com/datastax/go-cassandra-native-protocol/primitive"
)

func newTestEngine(t *testing.T, ddl ...string) (*Engine, *Session) {
	t.Helper()
	e, err := New(Config{})
	if err != nil {
		t.Fatal(err)
	}
	sess := &Session{}
	for _, q := range append([]string{
		`CREATE KEYSPACE ks WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}`, `USE ks`,
	}, ddl...) {
		if res := e.Handle(context.Background(), sess, &message.Query{Query: q}); isError(res) {
			t.Fatalf("%s: %v", q, res)
		}
	}
	return e, sess
}

func isError(m message.Message) bool {
	_, ok := m.(message.Error)
	return ok
}

func query(e *Engine, sess *Session, q string, vals ...[]byte) message.Message {
	opts := &message.QueryOptions{}
	for _, v := range vals {
		opts.PositionalValues = append(opts.PositionalValues, primitive.NewValue(v))
	}
	return e.Handle(context.Background(), sess, &message.Query{Query: q, Options: opts})
}

func TestHandleErrorTypes(t *testing.T) {
	e, sess := newTestEngine(t, `CREATE TABLE t (k int PRIMARY KEY, v text)`)
	cases := []struct {
		q    string
		want func(message.Message) bool
		msg  string
	}{
		{`SELEC * FROM t`, func(m message.Message) bool { _, ok := m.(*message.SyntaxError); return ok }, ""},
		{`SELECT * FROM nope`, func(m message.Message) bool { _, ok := m.(*message.Invalid); return ok }, "unconfigured table ks.nope"},
		{`SELECT x FROM t`, func(m message.Message) bool { _, ok := m.(*message.Invalid); return ok }, "Undefined column name x"},
		{`CREATE TABLE t (k int PRIMARY KEY)`, func(m message.Message) bool {
			ae, ok := m.(*message.AlreadyExists)
			return ok && ae.Keyspace == "ks" && ae.Table == "t"
		}, ""},
		{`CREATE KEYSPACE k2 WITH replication = {'replication_factor': 1}`, func(m message.Message) bool { _, ok := m.(*message.ConfigError); return ok }, ""},
		{`SELECT k FROM t GROUP BY v`, func(m message.Message) bool { _, ok := m.(*message.Invalid); return ok }, "Group by"},
		{`INSERT INTO t (v) VALUES ('x')`, func(m message.Message) bool { _, ok := m.(*message.Invalid); return ok }, "partition key"},
		{`CREATE TABLE IF NOT EXISTS t (k int PRIMARY KEY)`, func(m message.Message) bool { _, ok := m.(*message.VoidResult); return ok }, ""},
		{`CREATE TABLE c (k int PRIMARY KEY, n counter)`, func(m message.Message) bool { _, ok := m.(*message.Invalid); return ok }, "not supported by miniscylla: counter"},
		{`INSERT INTO t (k, v) VALUES (1)`, func(m message.Message) bool { _, ok := m.(*message.Invalid); return ok }, "unmatched column names/values"},
		{`CREATE TABLE two (a int PRIMARY KEY, b int PRIMARY KEY)`, func(m message.Message) bool { _, ok := m.(*message.Invalid); return ok }, "multiple PRIMARY KEYs"},
	}
	for _, c := range cases {
		res := query(e, sess, c.q)
		if !c.want(res) {
			t.Errorf("%s: got %T %v", c.q, res, res)
			continue
		}
		if me, ok := res.(message.Error); ok && !strings.Contains(me.GetErrorMessage(), c.msg) {
			t.Errorf("%s: message %q does not contain %q", c.q, me.GetErrorMessage(), c.msg)
		}
	}
	id := []byte("0123456789abcdef")
	res := e.Handle(context.Background(), sess, &message.Execute{QueryId: id, Options: &message.QueryOptions{}})
	if up, ok := res.(*message.Unprepared); !ok || string(up.Id) != string(id) {
		t.Errorf("execute unknown id: %v", res)
	}
}

func TestPrepareMetadata(t *testing.T) {
	e, sess := newTestEngine(t, `CREATE TABLE t (a int, b text, c timeuuid, v int, PRIMARY KEY ((b, a), c))`)
	res := e.Handle(context.Background(), sess, &message.Prepare{Query: `INSERT INTO t (v, a, c, b) VALUES (?, ?, ?, ?) USING TTL ?`})
	p, ok := res.(*message.PreparedResult)
	if !ok {
		t.Fatalf("prepare: %v", res)
	}
	if got := p.VariablesMetadata.PkIndices; len(got) != 2 || got[0] != 3 || got[1] != 1 {
		t.Errorf("pk indexes = %v, want [3 1]", got)
	}
	var names []string
	for _, c := range p.VariablesMetadata.Columns {
		names = append(names, c.Name)
	}
	if strings.Join(names, ",") != "v,a,c,b,[ttl]" {
		t.Errorf("bind names = %v", names)
	}
	res = e.Handle(context.Background(), sess, &message.Prepare{Query: `SELECT v, writetime(v) FROM t WHERE b = ? AND a IN ? AND c > ? LIMIT ?`})
	p = res.(*message.PreparedResult)
	names = names[:0]
	for _, c := range p.VariablesMetadata.Columns {
		names = append(names, c.Name+":"+c.Type.AsCql())
	}
	if strings.Join(names, ",") != "b:varchar,in(a):list<int>,c:timeuuid,[limit]:int" {
		t.Errorf("select bind metadata = %v", names)
	}
	if len(p.ResultMetadata.Columns) != 2 || p.ResultMetadata.Columns[1].Name != "writetime(v)" {
		t.Errorf("result metadata = %v", p.ResultMetadata.Columns)
	}
	if len(p.PreparedQueryId) != 16 {
		t.Errorf("prepared id length %d", len(p.PreparedQueryId))
	}
}

func TestNamedValuesAndUnset(t *testing.T) {
	e, sess := newTestEngine(t, `CREATE TABLE t (k int PRIMARY KEY, v text, w text)`)
	opts := &message.QueryOptions{NamedValues: map[string]*primitive.Value{
		"key": primitive.NewValue(encInt(1)), "val": primitive.NewValue([]byte("x")), "w": primitive.NewUnsetValue(),
	}}
	res := e.Handle(context.Background(), sess, &message.Query{Query: `INSERT INTO t (k, v, w) VALUES (:key, :val, ?)`, Options: opts})
	if isError(res) {
		t.Fatalf("named insert: %v", res)
	}
	rows := query(e, sess, `SELECT v, w FROM t WHERE k = 1`).(*message.RowsResult)
	if len(rows.Data) != 1 || string(rows.Data[0][0]) != "x" || rows.Data[0][1] != nil {
		t.Errorf("rows = %v", rows.Data)
	}
}

// TestBadInputNeverPanics feeds malformed values and odd statements; each
// must yield a protocol error, never an internal (recovered panic) error.
func TestBadInputNeverPanics(t *testing.T) {
	e, sess := newTestEngine(t,
		`CREATE TABLE t (k int, c timeuuid, l list<int>, m map<text, int>, s set<blob>, d decimal, PRIMARY KEY (k, c))`)
	bad := []struct {
		q    string
		vals [][]byte
	}{
		{`INSERT INTO t (k, c) VALUES (?, ?)`, [][]byte{{1, 2}, make([]byte, 16)}},
		{`INSERT INTO t (k, c) VALUES (?, ?)`, [][]byte{encInt(1), {1, 2, 3}}},
		{`INSERT INTO t (k, c, l) VALUES (?, now(), ?)`, [][]byte{encInt(1), {0, 0, 0, 5, 0, 0}}},
		{`INSERT INTO t (k, c, m) VALUES (?, now(), ?)`, [][]byte{encInt(1), {0xff, 0xff, 0xff, 0xff}}},
		{`INSERT INTO t (k, c, d) VALUES (?, now(), ?)`, [][]byte{encInt(1), {1}}},
		{`SELECT * FROM t WHERE k IN ?`, [][]byte{{0, 0, 0, 9}}},
		{`SELECT * FROM t WHERE k = ? LIMIT ?`, [][]byte{encInt(1), encInt(-1)}},
		{`SELECT * FROM t WHERE k = ?`, nil},
		{`UPDATE t SET l[?] = ? WHERE k = 1 AND c = now()`, [][]byte{encInt(99), encInt(1)}},
		{`DELETE FROM t WHERE k = 1 AND c > now() AND c < now() AND c = now()`, nil},
		{`SELECT * FROM t WHERE token(k) > ? AND token(k) < ?`, [][]byte{{1}, encBigint(0)}},
		{`SELECT * FROM system.local WHERE key = ?`, [][]byte{nil}},
		{`INSERT INTO t (k, c) VALUES (1, 'not-a-uuid')`, nil},
		{`UPDATE t SET k = 1 WHERE k = 1 AND c = now()`, nil},
		{`SELECT writetime(l) FROM t`, nil},
		{`DROP KEYSPACE system`, nil},
	}
	for _, b := range bad {
		res := query(e, sess, b.q, b.vals...)
		if se, ok := res.(*message.ServerError); ok {
			t.Errorf("%s: server error %q", b.q, se.ErrorMessage)
		}
		if !isError(res) {
			t.Errorf("%s: accepted bad input: %v", b.q, res)
		}
	}
	for _, state := range [][]byte{{'M', 1}, []byte("garbage-paging-state"), (&pagingState{key: []byte{1}}).encode()[:5]} {
		res := e.Handle(context.Background(), sess, &message.Query{Query: `SELECT * FROM t`, Options: &message.QueryOptions{PagingState: state, PageSize: 10}})
		if inv, ok := res.(*message.Invalid); !ok || !strings.Contains(inv.ErrorMessage, "paging state") {
			t.Errorf("paging state %x: %v", state, res)
		}
	}
}

func TestStaticColumnsAndAlterDrop(t *testing.T) {
	e, sess := newTestEngine(t, `CREATE TABLE t (k int, c int, s text static, v text, PRIMARY KEY (k, c))`)
	for _, q := range []string{
		`INSERT INTO t (k, s) VALUES (1, 'only-static')`,
		`ALTER TABLE t DROP v`,
		`ALTER TABLE t ADD v text`,
	} {
		if res := query(e, sess, q); isError(res) {
			t.Fatalf("%s: %v", q, res)
		}
	}
	rows := query(e, sess, `SELECT k, c, s FROM t WHERE k = 1`).(*message.RowsResult)
	if len(rows.Data) != 1 || rows.Data[0][1] != nil || string(rows.Data[0][2]) != "only-static" {
		t.Errorf("static-only partition rows = %v", rows.Data)
	}
	if res := query(e, sess, `INSERT INTO t (k, c, v) VALUES (1, 1, 'x')`); isError(res) {
		t.Fatal(res)
	}
	query(e, sess, `ALTER TABLE t DROP v`)
	query(e, sess, `ALTER TABLE t ADD v text`)
	rows = query(e, sess, `SELECT v FROM t WHERE k = 1 AND c = 1`).(*message.RowsResult)
	if len(rows.Data) != 1 || rows.Data[0][0] != nil {
		t.Errorf("re-added column resurrected data: %v", rows.Data)
	}
	if res := query(e, sess, `INSERT INTO system.local (key) VALUES ('x')`); !isError(res) {
		t.Errorf("write to a system table accepted: %v", res)
	}
}

func TestFunctionsTruncateAndSchemaEvents(t *testing.T) {
	var events []string
	e, err := New(Config{OnSchemaChange: func(ev *message.SchemaChangeEvent) {
		events = append(events, string(ev.ChangeType)+" "+string(ev.Target)+" "+ev.Keyspace+"."+ev.Object)
	}})
	if err != nil {
		t.Fatal(err)
	}
	sess := &Session{}
	for _, q := range []string{
		`CREATE KEYSPACE IF NOT EXISTS ks WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}`,
		`CREATE KEYSPACE IF NOT EXISTS ks WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}`,
		`USE ks`,
		`CREATE TYPE a (x int)`,
		`CREATE TYPE b (inner frozen<a>, tags list<text>)`,
		`CREATE TABLE t (k uuid, c timeuuid, ts timestamp, b frozen<b>, PRIMARY KEY (k, c))`,
		`INSERT INTO t (k, c, ts, b) VALUES (uuid(), now(), currentTimestamp(), {inner: {x: 1}, tags: ['t']})`,
		`INSERT INTO t (k, c, ts) VALUES (uuid(), now(), toTimestamp(now())) USING TIMEOUT 1s`,
	} {
		if res := query(e, sess, q); isError(res) {
			t.Fatalf("%s: %v", q, res)
		}
	}
	res := query(e, sess, `SELECT toUnixTimestamp(c), ts, b FROM t BYPASS CACHE`)
	rows, ok := res.(*message.RowsResult)
	if !ok || len(rows.Data) != 2 {
		t.Fatalf("select: %v", res)
	}
	for _, r := range rows.Data {
		ms, ts := signedBE(r[0]), signedBE(r[1])
		if ms <= 0 || ts-ms > 1000 || ms-ts > 1000 {
			t.Errorf("toUnixTimestamp(now()) = %d, currentTimestamp = %d", ms, ts)
		}
	}
	if res := query(e, sess, `TRUNCATE t`); isError(res) {
		t.Fatal(res)
	}
	if rows := query(e, sess, `SELECT * FROM t`).(*message.RowsResult); len(rows.Data) != 0 {
		t.Errorf("rows after truncate: %d", len(rows.Data))
	}
	if res := query(e, sess, `DROP KEYSPACE ks`); isError(res) {
		t.Fatal(res)
	}
	want := []string{
		"CREATED KEYSPACE ks.", "CREATED TYPE ks.a", "CREATED TYPE ks.b", "CREATED TABLE ks.t", "DROPPED KEYSPACE ks.",
	}
	if strings.Join(events, "|") != strings.Join(want, "|") {
		t.Errorf("events = %q, want %q", events, want)
	}
}

func TestPreparedCacheIsBounded(t *testing.T) {
	e, sess := newTestEngine(t, `CREATE TABLE t (k int PRIMARY KEY)`)
	for i := 0; i <= maxPrepared; i++ {
		if res := e.Handle(context.Background(), sess, &message.Prepare{Query: `SELECT k FROM t WHERE k = ` + strconv.Itoa(i)}); isError(res) {
			t.Fatal(res)
		}
	}
	e.prepMu.RLock()
	n := len(e.prepared)
	e.prepMu.RUnlock()
	if n != maxPrepared {
		t.Errorf("cache holds %d statements, want %d", n, maxPrepared)
	}
}

func TestConditionalBatch(t *testing.T) {
	e, sess := newTestEngine(t, `CREATE TABLE t (k int, c int, v int, PRIMARY KEY (k, c))`)
	res := query(e, sess, `BEGIN BATCH INSERT INTO t (k, c, v) VALUES (1, 1, 1) IF NOT EXISTS; INSERT INTO t (k, c, v) VALUES (1, 2, 2) APPLY BATCH`)
	if rows, ok := res.(*message.RowsResult); !ok || rows.Data[0][0][0] != 1 {
		t.Fatalf("first conditional batch: %v", res)
	}
	res = query(e, sess, `BEGIN BATCH INSERT INTO t (k, c, v) VALUES (1, 1, 9) IF NOT EXISTS; INSERT INTO t (k, c, v) VALUES (1, 3, 3) APPLY BATCH`)
	if rows, ok := res.(*message.RowsResult); !ok || rows.Data[0][0][0] != 0 || signedBE(rows.Data[0][3]) != 1 {
		t.Fatalf("second conditional batch: %v", res)
	}
	if n := len(query(e, sess, `SELECT * FROM t WHERE k = 1`).(*message.RowsResult).Data); n != 2 {
		t.Errorf("rows = %d, want 2 (the failed batch applied nothing)", n)
	}
	res = query(e, sess, `BEGIN BATCH INSERT INTO t (k, c) VALUES (1, 5) IF NOT EXISTS; INSERT INTO t (k, c) VALUES (2, 1) APPLY BATCH`)
	if inv, ok := res.(*message.Invalid); !ok || !strings.Contains(inv.ErrorMessage, "multiple partitions") {
		t.Errorf("cross-partition conditional batch: %v", res)
	}
}

func TestConfigValidate(t *testing.T) {
	if _, err := New(Config{ListenIP: "not-an-ip"}); err == nil {
		t.Error("New accepted an invalid ListenIP")
	}
	e, err := New(Config{ListenIP: "10.0.0.7"})
	if err != nil {
		t.Fatal(err)
	}
	rows := query(e, &Session{}, `SELECT rpc_address, tokens, partitioner FROM system.local WHERE key = 'local'`).(*message.RowsResult)
	if len(rows.Data) != 1 || string(rows.Data[0][0]) != string([]byte{10, 0, 0, 7}) || rows.Data[0][1] == nil {
		t.Errorf("system.local = %v", rows.Data)
	}
}

func TestOversizedPartitionKey(t *testing.T) {
	e, sess := newTestEngine(t, `CREATE TABLE b (k blob, c int, PRIMARY KEY ((k, c)))`)
	res := query(e, sess, `INSERT INTO b (k, c) VALUES (?, 1)`, make([]byte, 70000))
	if inv, ok := res.(*message.Invalid); !ok || !strings.Contains(inv.ErrorMessage, "Key length") {
		t.Errorf("oversized key: %v", res)
	}
}

func TestAggregates(t *testing.T) {
	e, sess := newTestEngine(t, `CREATE TABLE a (k int, c int, v text, PRIMARY KEY (k, c))`)
	for _, q := range []string{
		`INSERT INTO a (k, c, v) VALUES (1, 1, 'm')`, `INSERT INTO a (k, c, v) VALUES (1, 2, 'z')`,
		`INSERT INTO a (k, c) VALUES (1, 3)`, `INSERT INTO a (k, c, v) VALUES (2, 1, 'a')`,
	} {
		query(e, sess, q)
	}
	res := query(e, sess, `SELECT COUNT(*), count(v), min(v), max(c), k FROM a WHERE k = 1`)
	rows, ok := res.(*message.RowsResult)
	if !ok || len(rows.Data) != 1 {
		t.Fatalf("aggregate: %v", res)
	}
	r := rows.Data[0]
	if signedBE(r[0]) != 3 || signedBE(r[1]) != 2 || string(r[2]) != "m" || signedBE(r[3]) != 3 || signedBE(r[4]) != 1 {
		t.Errorf("count(*)=%d count(v)=%d min(v)=%q max(c)=%d k=%d", signedBE(r[0]), signedBE(r[1]), r[2], signedBE(r[3]), signedBE(r[4]))
	}
	if names := rows.Metadata.Columns; names[1].Name != "system.count(v)" || names[2].Name != "system.min(v)" {
		t.Errorf("names = %s, %s", names[1].Name, names[2].Name)
	}
	res = query(e, sess, `SELECT count(*), max(v) FROM a WHERE k = 9`)
	if rows := res.(*message.RowsResult); len(rows.Data) != 1 || signedBE(rows.Data[0][0]) != 0 || rows.Data[0][1] != nil {
		t.Errorf("empty aggregate: %v", rows.Data)
	}
	res = query(e, sess, `SELECT sum(c), avg(c) FROM a WHERE k = 1`)
	if rows := res.(*message.RowsResult); signedBE(rows.Data[0][0]) != 6 || signedBE(rows.Data[0][1]) != 2 {
		t.Errorf("sum, avg = %d, %d; want 6, 2", signedBE(rows.Data[0][0]), signedBE(rows.Data[0][1]))
	}
	if res := query(e, sess, `SELECT sum(v) FROM a`); !isError(res) {
		t.Errorf("sum of text accepted: %v", res)
	}
}

func TestTimestampTiesFavourDeletion(t *testing.T) {
	e, sess := newTestEngine(t, `CREATE TABLE t (k int PRIMARY KEY, v text, w text)`)
	for _, q := range []string{
		`INSERT INTO t (k, v, w) VALUES (1, 'a', 'b') USING TIMESTAMP 10`,
		`UPDATE t USING TIMESTAMP 10 SET v = null WHERE k = 1`,
		`UPDATE t USING TIMESTAMP 10 SET w = 'a' WHERE k = 1`,
	} {
		if res := query(e, sess, q); isError(res) {
			t.Fatalf("%s: %v", q, res)
		}
	}
	rows := query(e, sess, `SELECT v, w FROM t WHERE k = 1`).(*message.RowsResult)
	if len(rows.Data) != 1 || rows.Data[0][0] != nil || string(rows.Data[0][1]) != "b" {
		t.Errorf("tie reconciliation: %q", rows.Data)
	}
}
