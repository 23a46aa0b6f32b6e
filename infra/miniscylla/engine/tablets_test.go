package engine

import (
	"encoding/binary"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/outboxnode/outbox/infra/miniscylla/cdc"
)

func TestKeyspaceTabletsDefaultsAndOptions(t *testing.T) {
	e, sess := newTestEngine(t)
	for _, c := range []struct {
		stmt    string
		tablets bool
		errWant string // substring of the error; "" when the statement succeeds
	}{
		{`CREATE KEYSPACE nts WITH replication = {'class': 'NetworkTopologyStrategy', 'replication_factor': 1}`, true, ""},
		{`CREATE KEYSPACE ntsoff WITH replication = {'class': 'NetworkTopologyStrategy', 'replication_factor': 1} AND tablets = {'enabled': false}`, false, ""},
		{`CREATE KEYSPACE ntsinit WITH replication = {'class': 'NetworkTopologyStrategy', 'replication_factor': 1} AND tablets = {'initial': 8}`, true, ""},
		{`CREATE KEYSPACE simple WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}`, false, ""},
		{`CREATE KEYSPACE simpleon WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1} AND tablets = {'enabled': true}`, false, "SimpleStrategy doesn't support tablet replication"},
		{`CREATE KEYSPACE badkey WITH replication = {'class': 'NetworkTopologyStrategy', 'replication_factor': 1} AND tablets = {'min': 1}`, false, "Unrecognized tablets option min"},
		{`CREATE KEYSPACE badval WITH replication = {'class': 'NetworkTopologyStrategy', 'replication_factor': 1} AND tablets = {'enabled': 'maybe'}`, false, "must be true or false"},
	} {
		res := query(e, sess, c.stmt)
		if c.errWant != "" {
			if !isError(res) || !strings.Contains(fmt.Sprint(res), c.errWant) {
				t.Errorf("%s: %v, want an error with %q", c.stmt, res, c.errWant)
			}
			continue
		}
		if isError(res) {
			t.Fatalf("%s: %v", c.stmt, res)
		}
		name := strings.Fields(c.stmt)[2]
		rows := mustRows(t, query(e, sess, `SELECT initial_tablets FROM system_schema.scylla_keyspaces WHERE keyspace_name = '`+name+`'`))
		if got := len(rows) == 1 && rows[0][0] != nil; got != c.tablets {
			t.Errorf("%s: tablets row %v, want tablets %v", name, rows, c.tablets)
		}
	}
	// The flavour is fixed at creation; ALTER without the option keeps it.
	for _, q := range []string{
		`ALTER KEYSPACE simple WITH replication = {'class': 'NetworkTopologyStrategy', 'replication_factor': 1}`,
		`ALTER KEYSPACE nts WITH replication = {'class': 'NetworkTopologyStrategy', 'replication_factor': 2}`,
	} {
		if res := query(e, sess, q); isError(res) {
			t.Fatalf("%s: %v", q, res)
		}
	}
	if e.keyspaces["simple"].usesTablets() || !e.keyspaces["nts"].usesTablets() {
		t.Error("ALTER KEYSPACE changed the vnode/tablets flavour")
	}
	for q, want := range map[string]string{
		`ALTER KEYSPACE nts WITH replication = {'class': 'NetworkTopologyStrategy', 'replication_factor': 1} AND tablets = {'enabled': false}`: "flavor",
		`ALTER KEYSPACE nts WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}`:                                           "SimpleStrategy doesn't support tablet replication",
		`CREATE TABLE simple.t (pk int PRIMARY KEY) WITH tablets = {'min_tablet_count': 2}`:                                                    "tablets are disabled",
		`CREATE TABLE nts.t (pk int PRIMARY KEY) WITH tablets = {'min_tablets': 2}`:                                                            "Unknown tablet hint",
		`CREATE TABLE nts.t (pk int PRIMARY KEY) WITH tablets = {'min_tablet_count': 'x'}`:                                                     "Invalid value",
		`CREATE TABLE nts.t (pk int PRIMARY KEY) WITH tablets = {'min_tablet_count': 8, 'max_tablet_count': 4}`:                                "Invalid tablet count range",
	} {
		if res := query(e, sess, q); !isError(res) || !strings.Contains(fmt.Sprint(res), want) {
			t.Errorf("%s: %v, want an error with %q", q, res, want)
		}
	}
}

func TestTabletTarget(t *testing.T) {
	ks := &Keyspace{Tablets: map[string]string{"enabled": "true"}}
	init := &Keyspace{Tablets: map[string]string{"initial": "5"}}
	for _, c := range []struct {
		k    *Keyspace
		opts map[string]string
		want int
	}{
		{ks, nil, defaultTablets},
		{init, nil, 8},
		{ks, map[string]string{"min_tablet_count": "2"}, 2},
		{ks, map[string]string{"min_tablet_count": "3"}, 4},
		{ks, map[string]string{"min_tablet_count": "0"}, 1},
		{ks, map[string]string{"min_per_shard_tablet_count": "2.5"}, 4},
		{ks, map[string]string{"min_tablet_count": "16", "max_tablet_count": "12"}, 8},
		{ks, map[string]string{"min_tablet_count": "1000000"}, cdc.MaxTablets},
	} {
		if got := tabletTarget(c.k, c.opts); got != c.want {
			t.Errorf("tabletTarget(%v, %v) = %d, want %d", c.k.Tablets, c.opts, got, c.want)
		}
	}
}

// tabletStreamRows reads system.cdc_streams of ks.t as state -> stream ids
// per timestamp (ms).
func tabletStreamRows(t *testing.T, e *Engine, sess *Session) map[int64]map[cdc.StreamState][]cdc.StreamID {
	t.Helper()
	out := map[int64]map[cdc.StreamState][]cdc.StreamID{}
	for _, r := range mustRows(t, query(e, sess, `SELECT timestamp, stream_state, stream_id FROM system.cdc_streams WHERE keyspace_name = 'tab' AND table_name = 't'`)) {
		ts := int64(binary.BigEndian.Uint64(r[0]))
		if out[ts] == nil {
			out[ts] = map[cdc.StreamState][]cdc.StreamID{}
		}
		out[ts][cdc.StreamState(r[1][0])] = append(out[ts][cdc.StreamState(r[1][0])], cdc.StreamID(r[2]))
	}
	return out
}

func tabletTimestamps(t *testing.T, e *Engine, sess *Session) []int64 {
	t.Helper()
	var out []int64
	for _, r := range mustRows(t, query(e, sess, `SELECT timestamp FROM system.cdc_timestamps WHERE keyspace_name = 'tab' AND table_name = 't'`)) {
		out = append(out, int64(binary.BigEndian.Uint64(r[0])))
	}
	return out
}

// logStreamOf returns the stream of the log row of the write of v.
func logStreamOf(t *testing.T, e *Engine, sess *Session, v int) cdc.StreamID {
	t.Helper()
	for _, r := range mustRows(t, query(e, sess, `SELECT "cdc$stream_id", v FROM tab.t_scylla_cdc_log`)) {
		if r[1] != nil && int32(binary.BigEndian.Uint32(r[1])) == int32(v) {
			return cdc.StreamID(r[0])
		}
	}
	t.Fatalf("no log row for v = %d", v)
	return cdc.StreamID{}
}

// TestTabletStreamSetsFollowSplitAndMerge walks a CDC table of a tablets
// keyspace through a split and a merge with ALTER TABLE ... WITH tablets:
// each resize publishes a set starting tabletsLeeway ahead, with closed and
// opened streams; writes go to the set operating at their timestamp.
func TestTabletStreamSetsFollowSplitAndMerge(t *testing.T) {
	clock := &fakeClock{now: time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)}
	e, err := New(Config{Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	sess := &Session{}
	mustRun(t, e, sess,
		`CREATE KEYSPACE tab WITH replication = {'class': 'NetworkTopologyStrategy', 'replication_factor': 1}`,
		`CREATE TABLE tab.t (pk int PRIMARY KEY, v int) WITH cdc = {'enabled': true} AND tablets = {'min_tablet_count': 2}`)
	created := clock.Now()
	first := created.Add(-tabletsLeeway).UnixMilli()
	if got := tabletTimestamps(t, e, sess); len(got) != 1 || got[0] != first {
		t.Fatalf("timestamps %v, want [%d]", got, first)
	}
	sets := tabletStreamRows(t, e, sess)
	cur := sets[first][cdc.StreamCurrent]
	if len(cur) != 2 || len(sets[first][cdc.StreamOpened]) != 2 || len(sets[first][cdc.StreamClosed]) != 0 {
		t.Fatalf("first set %v, want 2 current = opened streams", sets[first])
	}
	for _, id := range cur {
		if id.Vnode() != 0 || id.Version() != 1 {
			t.Errorf("stream %s: vnode %d version %d, want 0 and 1", id, id.Vnode(), id.Version())
		}
	}
	if got := map[int64]bool{cur[0].Token(): true, cur[1].Token(): true}; !got[-1] || !got[1<<63-1] {
		t.Errorf("stream tokens %v, want the tablets' last tokens -1 and max", got)
	}

	mustRun(t, e, sess, `INSERT INTO tab.t (pk, v) VALUES (1, 1)`)
	tok := Token(encInt(1))
	old := e.cdc.tablets.tables["tab.t"].Current()
	if got := logStreamOf(t, e, sess, 1); got != old.StreamFor(tok) {
		t.Fatalf("write in stream %s, want %s", got, old.StreamFor(tok))
	}

	// Split to 8 tablets: two doublings, two sets 1 ms apart.
	clock.advance(time.Minute)
	mustRun(t, e, sess, `ALTER TABLE tab.t WITH tablets = {'min_tablet_count': 5}`)
	split := clock.Now().Add(tabletsLeeway).UnixMilli()
	if got := tabletTimestamps(t, e, sess); len(got) != 3 || got[0] != split+1 || got[1] != split || got[2] != first {
		t.Fatalf("timestamps after the split %v, want [%d %d %d] (newest first)", got, split+1, split, first)
	}
	sets = tabletStreamRows(t, e, sess)
	if s := sets[split]; len(s[cdc.StreamCurrent]) != 4 || len(s[cdc.StreamClosed]) != 2 || len(s[cdc.StreamOpened]) != 4 {
		t.Errorf("set at %d: %d current, %d closed, %d opened; want 4, 2, 4", split,
			len(s[cdc.StreamCurrent]), len(s[cdc.StreamClosed]), len(s[cdc.StreamOpened]))
	}
	if s := sets[split+1]; len(s[cdc.StreamCurrent]) != 8 || len(s[cdc.StreamClosed]) != 4 || len(s[cdc.StreamOpened]) != 8 {
		t.Errorf("set at %d: %d current, %d closed, %d opened; want 8, 4, 8", split+1,
			len(s[cdc.StreamCurrent]), len(s[cdc.StreamClosed]), len(s[cdc.StreamOpened]))
	}

	// Before the split starts, writes still use the old streams; a write
	// dated at or after it uses the new ones; a write dated further ahead
	// than the leeway, or before the first set, is refused.
	newest := e.cdc.tablets.tables["tab.t"].Current()
	clock.advance(2 * time.Second)
	mustRun(t, e, sess, `INSERT INTO tab.t (pk, v) VALUES (1, 2)`,
		fmt.Sprintf(`INSERT INTO tab.t (pk, v) VALUES (1, 3) USING TIMESTAMP %d`, (split+1)*1000))
	if got := logStreamOf(t, e, sess, 2); got != old.StreamFor(tok) {
		t.Errorf("write before the split in %s, want the old stream %s", got, old.StreamFor(tok))
	}
	if got := logStreamOf(t, e, sess, 3); got != newest.StreamFor(tok) {
		t.Errorf("write after the split in %s, want the new stream %s", got, newest.StreamFor(tok))
	}
	future := clock.Now().Add(tabletsLeeway + time.Millisecond).UnixMicro()
	if res := query(e, sess, fmt.Sprintf(`INSERT INTO tab.t (pk, v) VALUES (1, 4) USING TIMESTAMP %d`, future)); !isError(res) ||
		!strings.Contains(fmt.Sprint(res), "from the future") {
		t.Errorf("write from the future: %v", res)
	}
	if res := query(e, sess, fmt.Sprintf(`INSERT INTO tab.t (pk, v) VALUES (1, 5) USING TIMESTAMP %d`, (first-1)*1000)); !isError(res) ||
		!strings.Contains(fmt.Sprint(res), "could not find any CDC streams") {
		t.Errorf("write before the first set: %v", res)
	}

	// Merge back to 2 tablets; other ALTERs leave the sets alone.
	clock.advance(time.Minute)
	mustRun(t, e, sess, `ALTER TABLE tab.t WITH tablets = {'min_tablet_count': 2}`, `ALTER TABLE tab.t WITH comment = 'x'`)
	if got := tabletTimestamps(t, e, sess); len(got) != 5 {
		t.Fatalf("%d stream sets after the merge, want 5", len(got))
	}
	if n := e.cdc.tablets.tables["tab.t"].Current().Tablets(); n != 2 {
		t.Errorf("%d tablets after the merge, want 2", n)
	}
	mustRun(t, e, sess, `DROP TABLE tab.t`)
	if got := tabletTimestamps(t, e, sess); len(got) != 0 {
		t.Errorf("stream sets of a dropped table: %v", got)
	}
}

// TestTabletStreamSetsAreDurable restarts from the write-ahead log, plain
// and checkpointed: the stream sets come back identical (same times, same
// ids), and so do the log rows written in them.
func TestTabletStreamSetsAreDurable(t *testing.T) {
	for _, checkpoint := range []bool{false, true} {
		t.Run(fmt.Sprintf("checkpoint=%v", checkpoint), func(t *testing.T) {
			dir := t.TempDir()
			clock := &fakeClock{now: time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)}
			e := openDurableEngine(t, dir, clock)
			sess := &Session{}
			mustRun(t, e, sess,
				`CREATE KEYSPACE tab WITH replication = {'class': 'NetworkTopologyStrategy', 'replication_factor': 1}`,
				`CREATE TABLE tab.t (pk int PRIMARY KEY, v int) WITH cdc = {'enabled': true}`,
				`INSERT INTO tab.t (pk, v) VALUES (1, 1)`,
				`ALTER TABLE tab.t WITH tablets = {'min_tablet_count': 8}`)
			clock.advance(10 * time.Second)
			if checkpoint {
				e.mu.Lock()
				e.dur.checkpointAt, e.dur.minCheckpoint = 1, 1
				e.mu.Unlock()
			}
			mustRun(t, e, sess, `INSERT INTO tab.t (pk, v) VALUES (2, 2)`, `CREATE TABLE tab.other (pk int PRIMARY KEY)`)
			reads := func(e *Engine) []string {
				return []string{
					fmt.Sprint(mustRows(t, query(e, sess, `SELECT * FROM system.cdc_streams`))),
					fmt.Sprint(mustRows(t, query(e, sess, `SELECT * FROM system.cdc_timestamps`))),
					fmt.Sprint(mustRows(t, query(e, sess, `SELECT * FROM tab.t_scylla_cdc_log`))),
				}
			}
			want := reads(e)
			if err := e.Close(); err != nil {
				t.Fatal(err)
			}
			r := openDurableEngine(t, dir, clock)
			defer r.Close()
			got := reads(r)
			for i := range want {
				if got[i] != want[i] {
					t.Errorf("read %d after restart:\n got %s\nwant %s", i, got[i], want[i])
				}
			}
			// Writes after the restart use the recovered sets.
			mustRun(t, r, sess, `INSERT INTO tab.t (pk, v) VALUES (3, 3)`)
			if n := r.cdc.tablets.tables["tab.t"].Current().Tablets(); n != 8 {
				t.Errorf("%d tablets after restart, want 8", n)
			}
		})
	}
}

func TestTabletStreamRecordRoundTrip(t *testing.T) {
	e, err := New(Config{})
	if err != nil {
		t.Fatal(err)
	}
	rec := encodeStreamSet("ks", "t", 1700000000123, 4, 42)
	if err := e.replay(rec, false); err != nil {
		t.Fatal(err)
	}
	want, _ := cdc.NewStreamSet(time.UnixMilli(1700000000123), 4, 42)
	if got := e.cdc.tablets.tables["ks.t"].Current(); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("replayed set %v, want %v", got, want)
	}
	for _, bad := range [][]byte{rec[:len(rec)-1], encodeStreamSet("ks", "t", 1, 3, 1), encodeStreamSet("ks", "t", 1700000000123, 4, 1)} {
		if err := e.replay(bad, false); err == nil {
			t.Errorf("record %x replayed", bad)
		}
	}
}
