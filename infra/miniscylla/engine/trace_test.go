package engine

import (
	"context"
	"net"
	"strings"
	"testing"

	"github.com/datastax/go-cassandra-native-protocol/message"
	"github.com/google/uuid"
)

// TestTraceRecordsSessionAndEvents traces a read, a write and a failing
// statement and reads them back from system_traces.
func TestTraceRecordsSessionAndEvents(t *testing.T) {
	e, sess := newTestEngine(t, `CREATE TABLE t (k int, c int, v int, PRIMARY KEY (k, c))`)
	mustExec(t, e, sess, `INSERT INTO t (k, c, v) VALUES (1, 1, 1)`)
	mustExec(t, e, sess, `INSERT INTO t (k, c, v) VALUES (1, 2, 2)`)
	client := net.ParseIP("10.1.2.3")
	for _, tc := range []struct {
		q, activity string
	}{
		{`SELECT * FROM t WHERE k = 1`, "Read 2 live row(s) from 1 partition(s) of ks.t; returning 2 row(s), more pages: false"},
		{`INSERT INTO t (k, c, v) VALUES (2, 1, 1)`, "Applying 1 mutation(s) of 1 statement(s) to ks.t: 1 row(s) written"},
		{`SELECT nope FROM t`, "Request failed: Undefined column name nope"},
	} {
		_, id := e.HandleTraced(context.Background(), sess, &message.Query{Query: tc.q, Options: &message.QueryOptions{}}, client)
		if len(id) != 16 {
			t.Fatalf("%s: trace id %x", tc.q, id)
		}
		u, _ := uuid.FromBytes(id)
		res := query(e, sess, `SELECT request, client, duration, parameters FROM system_traces.sessions WHERE session_id = `+u.String())
		rows, ok := res.(*message.RowsResult)
		if !ok || len(rows.Data) != 1 {
			t.Fatalf("%s: session row: %v", tc.q, res)
		}
		r := rows.Data[0]
		if string(r[0]) != "Execute CQL3 query" || !net.IP(r[1]).Equal(client) || signedBE(r[2]) <= 0 || !strings.Contains(string(r[3]), tc.q) {
			t.Errorf("%s: session row %q", tc.q, r)
		}
		res = query(e, sess, `SELECT activity, source_elapsed FROM system_traces.events WHERE session_id = `+u.String())
		rows, ok = res.(*message.RowsResult)
		if !ok {
			t.Fatal(res)
		}
		var acts []string
		for _, r := range rows.Data {
			acts = append(acts, string(r[0]))
		}
		joined := strings.Join(acts, " | ")
		if !strings.Contains(joined, tc.activity) || acts[0] != "Parsing a statement" || acts[len(acts)-1] != "Done processing - preparing a result" {
			t.Errorf("%s: events %s", tc.q, joined)
		}
	}
	// An untraced request leaves no session behind.
	before := len(e.traces.snapshot())
	mustExec(t, e, sess, `SELECT * FROM t`)
	if after := len(e.traces.snapshot()); after != before {
		t.Errorf("untraced request added %d sessions", after-before)
	}
}

// TestTraceStoreKeepsTheLatest bounds the store at maxTraceSessions,
// dropping the oldest, and leaves earlier snapshots as they were.
func TestTraceStoreKeepsTheLatest(t *testing.T) {
	var s traceStore
	first := &traceSession{command: "first"}
	s.add(first)
	snap := s.snapshot()
	for range maxTraceSessions {
		s.add(&traceSession{command: "later"})
	}
	got := s.snapshot()
	if len(got) != maxTraceSessions || got[0] == first || got[len(got)-1].command != "later" {
		t.Errorf("%d sessions, first %q", len(got), got[0].command)
	}
	if len(snap) != 1 || snap[0] != first {
		t.Errorf("earlier snapshot changed: %v", snap)
	}
}
