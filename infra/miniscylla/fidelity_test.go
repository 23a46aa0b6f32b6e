package miniscylla_test

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gocql/gocql"
	"github.com/pierrec/lz4/v4"
	"github.com/scylladb/gocqlx/v2"
	"github.com/scylladb/gocqlx/v2/qb"

	"github.com/outboxnode/outbox/infra/miniscylla"
	"github.com/outboxnode/outbox/infra/miniscylla/engine"
	"github.com/outboxnode/outbox/infra/miniscylla/miniscyllatest"
)

// The fidelity suite: one data set and one list of paged queries that every
// driver (gocql here, the Python and Node.js drivers through the scripts in
// testdata) pages with several fetch sizes, requiring each row exactly once.
// The data set covers every table shape: fid.flat has one-row partitions
// and no clustering columns (like dead_letter_queue), fid.wide a 6,000-row
// partition, small partitions and static-only ones.
const (
	flatRows     = 20_000
	bigPartRows  = 6_000
	smallParts   = 30 // partitions 1..30 of fid.wide, smallPartRows rows each
	smallRows    = 10
	staticParts  = 5 // partitions 31..35 of fid.wide: static row only
	tokenLow     = int64(8_000_000_000_000_000_000)
	tokenWinLow  = int64(-1_000_000_000_000_000_000)
	tokenWinHigh = int64(1_000_000_000_000_000_000)
)

// pagingCase is one query of the suite: the rows it returns (counted
// unpaged, in one page) and the fetch sizes each driver pages it with.
type pagingCase struct {
	Name  string `json:"name"`
	Query string `json:"query"`
	Want  int    `json:"want"`
	Sizes []int  `json:"sizes"`
}

func intList(from, to, step int) string {
	var b strings.Builder
	for i := from; i < to; i += step {
		if b.Len() > 0 {
			b.WriteString(", ")
		}
		fmt.Fprint(&b, i)
	}
	return b.String()
}

// tokenOf is the Murmur3 token of an int partition key.
func tokenOf(k int) int64 { return engine.Token(binary.BigEndian.AppendUint32(nil, uint32(k))) }

func pagingCases() []pagingCase {
	inRange, inWindow := 0, 0
	for k := range flatRows {
		if tok := tokenOf(k); tok > tokenLow {
			inRange++
		} else if tok > tokenWinLow && tok <= tokenWinHigh {
			inWindow++
		}
	}
	wideRows := bigPartRows + smallParts*smallRows + staticParts
	return []pagingCase{
		{"one-row partitions, full scan", "SELECT k, v FROM fid.flat", flatRows, []int{1000, 5000}},
		{"IN over 300 partition keys", "SELECT k FROM fid.flat WHERE k IN (" + intList(0, 900, 3) + ")", 300, []int{1, 7, 100, 1000}},
		{"token range", fmt.Sprintf("SELECT k FROM fid.flat WHERE token(k) > %d", tokenLow), inRange, []int{7, 100, 1000}},
		{"token window", fmt.Sprintf("SELECT k FROM fid.flat WHERE token(k) > %d AND token(k) <= %d", tokenWinLow, tokenWinHigh), inWindow, []int{100, 5000}},
		{"ALLOW FILTERING, no clustering", "SELECT k FROM fid.flat WHERE v = 3 ALLOW FILTERING", flatRows / 10, []int{7, 1000}},
		{"LIMIT across pages", "SELECT k FROM fid.flat LIMIT 2500", 2500, []int{7, 1000}},
		{"6,000-row partition", "SELECT k, c FROM fid.wide WHERE k = 0", bigPartRows, []int{7, 100, 1000, 5000}},
		{"6,000-row partition, reversed", "SELECT c FROM fid.wide WHERE k = 0 AND c < 500 ORDER BY c DESC", 500, []int{7, 100}},
		{"every shape, full scan", "SELECT k, c, s FROM fid.wide", wideRows, []int{100, 1000, 5000}},
		{"IN on partition keys with static-only ones", "SELECT k, c FROM fid.wide WHERE k IN (1, 2, 3, 31, 32)", 3*smallRows + 2, []int{1, 7, 100}},
		{"IN on clustering keys", "SELECT c FROM fid.wide WHERE k = 0 AND c IN (" + intList(0, 1000, 5) + ")", 200, []int{1, 7, 100}},
		{"static-only rows", "SELECT k, s FROM fid.wide WHERE k IN (31, 32, 33, 34, 35)", staticParts, []int{1, 2}},
		{"PER PARTITION LIMIT", "SELECT k, c FROM fid.wide PER PARTITION LIMIT 3", (1+smallParts)*3 + staticParts, []int{1, 7, 100}},
		{"PER PARTITION LIMIT and LIMIT", "SELECT k, c FROM fid.wide PER PARTITION LIMIT 4 LIMIT 50", 50, []int{7, 100}},
		{"ALLOW FILTERING, clustering", "SELECT k, c FROM fid.wide WHERE v = 1 ALLOW FILTERING", bigPartRows/3 + smallParts*3, []int{7, 1000}},
		{"DISTINCT", "SELECT DISTINCT k FROM fid.wide", 1 + smallParts + staticParts, []int{1, 7}},
		{"GROUP BY partition", "SELECT k, count(*), max(c) FROM fid.wide GROUP BY k", 1 + smallParts + staticParts, []int{1, 7, 100}},
		{"GROUP BY clustering", "SELECT k, c, count(*) FROM fid.wide WHERE k = 0 GROUP BY k, c", bigPartRows, []int{1000}},
	}
}

// loadFidelityData creates the fid keyspace and its rows through sess.
func loadFidelityData(t *testing.T, sess *gocql.Session) {
	t.Helper()
	for _, stmt := range []string{
		"CREATE KEYSPACE fid WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}",
		"CREATE TABLE fid.flat (k int PRIMARY KEY, v int)",
		"CREATE TABLE fid.wide (k int, c int, v int, s int static, PRIMARY KEY (k, c))",
		"CREATE TABLE fid.docs (id int, c int, t text, ts timestamp, b blob, u uuid, l list<int>, m map<text, int>, PRIMARY KEY (id, c))",
	} {
		miniscyllatest.Exec(t, sess, stmt)
	}
	batch := sess.Batch(gocql.UnloggedBatch)
	flush := func() {
		if err := sess.ExecuteBatch(batch); err != nil {
			t.Fatalf("load fid: %v", err)
		}
		batch = sess.Batch(gocql.UnloggedBatch)
	}
	add := func(stmt string, args ...any) {
		batch.Query(stmt, args...)
		if batch.Size() == 250 {
			flush()
		}
	}
	for k := range flatRows {
		add("INSERT INTO fid.flat (k, v) VALUES (?, ?)", k, k%10)
	}
	for c := range bigPartRows {
		add("INSERT INTO fid.wide (k, c, v) VALUES (0, ?, ?)", c, c%3)
	}
	for k := 1; k <= smallParts; k++ {
		for c := range smallRows {
			add("INSERT INTO fid.wide (k, c, v, s) VALUES (?, ?, ?, ?)", k, c, c%3, k)
		}
	}
	for k := smallParts + 1; k <= smallParts+staticParts; k++ {
		add("INSERT INTO fid.wide (k, s) VALUES (?, ?)", k, k)
	}
	flush()
}

// gocqlPage runs q with fetch size n through gocql's automatic paging and
// returns each row rendered as text.
func gocqlPage(t *testing.T, sess *gocql.Session, q string, n int) []string {
	t.Helper()
	iter := sess.Query(q).PageSize(n).Iter()
	cols := iter.Columns()
	var out []string
	for {
		vals := make([]any, len(cols))
		for i := range vals {
			vals[i] = new(*int64)
		}
		if !iter.Scan(vals...) {
			break
		}
		parts := make([]string, len(vals))
		for i, v := range vals {
			if p := *(v.(**int64)); p != nil {
				parts[i] = fmt.Sprint(*p)
			} else {
				parts[i] = "null"
			}
		}
		out = append(out, strings.Join(parts, ","))
	}
	if err := iter.Close(); err != nil {
		t.Fatalf("%s (fetch size %d): %v", q, n, err)
	}
	return out
}

// checkExactlyOnce compares paged rows with the unpaged ones: same count,
// no row twice, the same set.
func checkExactlyOnce(t *testing.T, what string, got, want []string) {
	t.Helper()
	seen := make(map[string]bool, len(got))
	for _, r := range got {
		if seen[r] {
			t.Errorf("%s: row %s returned twice (%d rows, want %d)", what, r, len(got), len(want))
			return
		}
		seen[r] = true
	}
	if len(got) != len(want) {
		t.Errorf("%s: %d rows, want %d", what, len(got), len(want))
		return
	}
	for _, r := range want {
		if !seen[r] {
			t.Errorf("%s: row %s missing", what, r)
			return
		}
	}
}

// lz4Compressor is Cassandra's lz4 frame body format (a big-endian
// uncompressed length, then one lz4 block) for gocql, which ships lz4 only
// as a separate module.
type lz4Compressor struct{}

func (lz4Compressor) Name() string { return "lz4" }

func (lz4Compressor) Encode(data []byte) ([]byte, error) {
	out := make([]byte, 4+lz4.CompressBlockBound(len(data)))
	binary.BigEndian.PutUint32(out, uint32(len(data)))
	n, err := lz4.CompressBlock(data, out[4:], nil)
	if err != nil {
		return nil, fmt.Errorf("lz4 encode: %w", err)
	}
	return out[:4+n], nil
}

func (lz4Compressor) Decode(data []byte) ([]byte, error) {
	if len(data) < 4 {
		return nil, fmt.Errorf("lz4 decode: %d-byte body", len(data))
	}
	out := make([]byte, binary.BigEndian.Uint32(data))
	n, err := lz4.UncompressBlock(data[4:], out)
	if err != nil {
		return nil, fmt.Errorf("lz4 decode: %w", err)
	}
	return out[:n], nil
}

// TestGocqlFidelity pages every case through gocql with token-aware
// routing, plain, snappy and lz4, and through gocqlx into structs, and
// checks SELECT/INSERT JSON, GROUP BY and tracing as gocql's own Tracer
// reads them.
func TestGocqlFidelity(t *testing.T) {
	s := miniscyllatest.Start(t, miniscylla.Config{})
	loadFidelityData(t, miniscyllatest.Connect(t, s.Addr()))
	for _, tc := range []struct {
		name string
		comp gocql.Compressor
		all  bool // every fetch size; the others page with the largest only
	}{{"snappy", gocql.SnappyCompressor{}, true}, {"lz4", lz4Compressor{}, false}, {"plain", nil, false}} {
		t.Run(tc.name, func(t *testing.T) {
			sess := miniscyllatest.Connect(t, s.Addr(), func(c *gocql.ClusterConfig) { c.Compressor = tc.comp })
			for _, pc := range pagingCases() {
				want := gocqlPage(t, sess, pc.Query, 100_000)
				if len(want) != pc.Want {
					t.Fatalf("%s: %d rows in one page, want %d", pc.Name, len(want), pc.Want)
				}
				sizes := pc.Sizes
				if !tc.all {
					sizes = sizes[len(sizes)-1:]
				}
				for _, n := range sizes {
					checkExactlyOnce(t, fmt.Sprintf("%s, fetch size %d", pc.Name, n), gocqlPage(t, sess, pc.Query, n), want)
				}
			}
			if tc.all {
				checkGocqlxPaging(t, sess)
				checkGocqlJSON(t, sess)
				checkGocqlGroupBy(t, sess)
				checkGocqlTrace(t, sess)
			}
		})
	}
}

// checkGocqlxPaging pages the one-row partitions into structs through a
// gocqlx query builder, as the node's stores (the DLQ listing) do.
func checkGocqlxPaging(t *testing.T, sess *gocql.Session) {
	type flatRow struct{ K, V int }
	stmt, names := qb.Select("fid.flat").Columns("k", "v").ToCql()
	for _, n := range []int{999, 5000} {
		iter := gocqlx.NewSession(sess).Query(stmt, names).PageSize(n).Iter()
		seen := make(map[int]bool, flatRows)
		var r flatRow
		for iter.StructScan(&r) {
			if seen[r.K] || r.V != r.K%10 {
				t.Fatalf("gocqlx, fetch size %d: row %+v twice or wrong", n, r)
			}
			seen[r.K] = true
		}
		if err := iter.Close(); err != nil {
			t.Fatal(err)
		}
		if len(seen) != flatRows {
			t.Errorf("gocqlx, fetch size %d: %d rows, want %d", n, len(seen), flatRows)
		}
	}
}

func checkGocqlJSON(t *testing.T, sess *gocql.Session) {
	doc := `{"id": 1, "c": 2, "t": "h\u00e9llo \"q\"", "ts": "2024-01-02 03:04:05.678Z", "b": "0xcafe",` +
		` "u": "6ab09bec-e68e-48d9-a5f8-97e6fb4c9b47", "l": [3, 1], "m": {"b": 2, "a": 1}}`
	miniscyllatest.Exec(t, sess, "INSERT INTO fid.docs JSON ?", doc)
	var got string
	if err := sess.Query("SELECT JSON * FROM fid.docs WHERE id = 1").Scan(&got); err != nil {
		t.Fatal(err)
	}
	want := `{"id": 1, "c": 2, "b": "0xcafe", "l": [3, 1], "m": {"a": 1, "b": 2}, "t": "héllo \"q\"",` +
		` "ts": "2024-01-02 03:04:05.678Z", "u": "6ab09bec-e68e-48d9-a5f8-97e6fb4c9b47"}`
	if got != want {
		t.Errorf("SELECT JSON:\n got %s\nwant %s", got, want)
	}
	miniscyllatest.Exec(t, sess, `INSERT INTO fid.docs JSON '{"id": 1, "c": 2, "t": "kept"}' DEFAULT UNSET`)
	miniscyllatest.Exec(t, sess, `INSERT INTO fid.docs JSON '{"id": 1, "c": 3}'`)
	var t2, b2 string
	if err := sess.Query("SELECT JSON t, b FROM fid.docs WHERE id = 1 AND c = 2").Scan(&t2); err != nil || t2 != `{"t": "kept", "b": "0xcafe"}` {
		t.Errorf("after DEFAULT UNSET: %s, %v", t2, err)
	}
	if err := sess.Query("SELECT JSON t, b FROM fid.docs WHERE id = 1 AND c = 3").Scan(&b2); err != nil || b2 != `{"t": null, "b": null}` {
		t.Errorf("after DEFAULT NULL: %s, %v", b2, err)
	}
	err := sess.Query(`INSERT INTO fid.docs JSON '{"id": 1, "c": 4, "nope": 1}'`).Exec()
	if err == nil || !strings.Contains(err.Error(), "unrecognized column: nope") {
		t.Errorf("INSERT JSON with an unknown column: %v", err)
	}
}

func checkGocqlGroupBy(t *testing.T, sess *gocql.Session) {
	iter := sess.Query("SELECT k, count(*), sum(v), min(c) FROM fid.wide WHERE k IN (0, 5, 33) GROUP BY k").PageSize(1).Iter()
	type group struct {
		k, sum, min int
		n           int64
	}
	var got []group
	var g group
	var minC *int
	for iter.Scan(&g.k, &g.n, &g.sum, &minC) {
		if minC != nil {
			g.min = *minC
		}
		got = append(got, g)
	}
	if err := iter.Close(); err != nil {
		t.Fatal(err)
	}
	// v = c % 3: a 10-row partition sums to 9; a static-only one counts its static row.
	want := []group{{k: 0, n: bigPartRows, sum: bigPartRows}, {k: 5, n: smallRows, sum: 9}, {k: 33, n: 1}}
	slices.SortFunc(got, func(a, b group) int { return a.k - b.k })
	if !slices.Equal(got, want) {
		t.Errorf("GROUP BY k paged by 1: %+v, want %+v", got, want)
	}
	err := sess.Query("SELECT count(*) FROM fid.wide GROUP BY c").Exec()
	if err == nil || !strings.Contains(err.Error(), "PRIMARY KEY") {
		t.Errorf("GROUP BY a non-prefix: %v", err)
	}
}

func checkGocqlTrace(t *testing.T, sess *gocql.Session) {
	tracer := gocql.NewTracer(sess)
	if err := sess.Query("SELECT k, c FROM fid.wide WHERE k = 1").Trace(tracer).Exec(); err != nil {
		t.Fatal(err)
	}
	if err := sess.Query("INSERT INTO fid.flat (k, v) VALUES (?, ?)", 1, 1).Trace(tracer).Exec(); err != nil {
		t.Fatal(err)
	}
	ids := tracer.AllTraceIDs()
	if len(ids) != 2 {
		t.Fatalf("%d trace ids, want 2", len(ids))
	}
	for i, wantActivity := range []string{"Read 10 live row(s) from 1 partition(s) of fid.wide", "Applying 1 mutation(s) of 1 statement(s) to fid.flat"} {
		if ready, err := tracer.IsReady(ids[i]); err != nil || !ready {
			t.Fatalf("trace %x not ready: %v", ids[i], err)
		}
		coord, dur, err := tracer.GetCoordinatorTime(ids[i])
		if err != nil || coord != "127.0.0.1" || dur <= 0 {
			t.Errorf("trace %x: coordinator %q, duration %v, %v", ids[i], coord, dur, err)
		}
		events, err := tracer.GetActivities(ids[i])
		if err != nil {
			t.Fatal(err)
		}
		var acts []string
		for _, e := range events {
			acts = append(acts, e.Activity)
		}
		joined := strings.Join(acts, " | ")
		if !strings.Contains(joined, wantActivity) || !strings.HasSuffix(joined, "Done processing - preparing a result") {
			t.Errorf("trace %x events: %s", ids[i], joined)
		}
	}
}

// writeSpec writes the paging cases for a driver script.
func writeSpec(t *testing.T) string {
	t.Helper()
	b, err := json.Marshal(pagingCases())
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "paging_cases.json")
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// runDriverScript starts a server with the fidelity data, runs the
// command with HOST PORT SPEC appended and requires its final "ok: " line.
func runDriverScript(t *testing.T, name string, args ...string) {
	t.Helper()
	s := miniscyllatest.Start(t, miniscylla.Config{})
	loadFidelityData(t, miniscyllatest.Connect(t, s.Addr()))
	host, port, err := net.SplitHostPort(s.Addr())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, append(args, host, port, writeSpec(t))...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %v: %v\n%s", name, args, err, out)
	}
	if !strings.HasPrefix(string(out), "ok: ") && !strings.Contains(string(out), "\nok: ") {
		t.Fatalf("%s %v did not finish:\n%s", name, args, out)
	}
	t.Logf("%s", out)
}

// TestPythonDriverFidelity runs testdata/pydriver_fidelity.py (DataStax
// Python driver 3.25, token-aware) over the fidelity data. A missing driver
// fails the test: CI installs it with `make deps`.
func TestPythonDriverFidelity(t *testing.T) {
	const python = "/usr/bin/python3"
	if out, err := exec.Command(python, "-c", "import cassandra.cluster").CombinedOutput(); err != nil {
		t.Fatalf("the DataStax Python driver (Debian python3-cassandra) is missing: run `make deps`.\n%v: %s", err, out)
	}
	runDriverScript(t, python, "testdata/pydriver_fidelity.py")
}

// TestNodeDriverFidelity runs test/clients/cassandra_fidelity.js with the
// Node.js cassandra-driver pinned in test/clients/package.json over the
// fidelity data. A missing node or package fails the test: `make deps`
// (.ci/deps) installs them.
func TestNodeDriverFidelity(t *testing.T) {
	const clients = "../../test/clients"
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatalf("node is missing: run `make deps`: %v", err)
	}
	if _, err := os.Stat(filepath.Join(clients, "node_modules", "cassandra-driver", "package.json")); err != nil {
		t.Fatalf("the Node.js cassandra-driver is not installed in %s: run `make deps` (npm ci): %v", clients, err)
	}
	runDriverScript(t, node, filepath.Join(clients, "cassandra_fidelity.js"))
}
