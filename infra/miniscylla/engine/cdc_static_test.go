package engine_test

import (
	"fmt"
	"testing"

	"github.com/gocql/gocql"
)

// TestCDCConditionalBatchStaticAndClusteringRows: the commit of an outbox
// shard (a conditional batch updating the partition's static columns and
// inserting a clustering row USING TTL) is logged as ScyllaDB logs it: one
// change (one cdc$time) of two delta rows, the static row first with a null
// clustering key and no TTL, then the clustering row's insert with its TTL,
// which ends the batch.
func TestCDCConditionalBatchStaticAndClusteringRows(t *testing.T) {
	s := setupKeyspace(t)
	exec(t, s, `CREATE TABLE ks.shard (id uuid, ev timeuuid, version int static, payload text, PRIMARY KEY (id, ev)) WITH cdc = {'enabled': true}`)
	id := gocql.MustRandomUUID()
	var events []gocql.UUID
	for v := 1; v <= 2; v++ {
		var from *int
		if v > 1 {
			prev := v - 1
			from = &prev
		}
		ev := gocql.TimeUUID()
		events = append(events, ev)
		b := s.Session.Batch(gocql.LoggedBatch)
		b.Query(`UPDATE ks.shard SET version = ? WHERE id = ? IF version = ?`, v, id, from)
		b.Query(`INSERT INTO ks.shard (id, ev, payload) VALUES (?, ?, ?) USING TTL 600`, id, ev, fmt.Sprint("v", v))
		if applied, _, err := s.Session.MapExecuteBatchCAS(b, map[string]any{}); err != nil || !applied {
			t.Fatalf("commit v%d: applied=%v err=%v", v, applied, err)
		}
	}

	type logRow struct {
		time    gocql.UUID
		seq     int
		op      int8
		ttl     *int64
		end     *bool
		ev      *gocql.UUID
		version *int
		payload *string
	}
	iter := s.Session.Query(`SELECT "cdc$time", "cdc$batch_seq_no", "cdc$operation", "cdc$ttl", "cdc$end_of_batch", ev, version, payload FROM ks.shard_scylla_cdc_log`).Iter()
	var rows []logRow
	for r := (logRow{}); iter.Scan(&r.time, &r.seq, &r.op, &r.ttl, &r.end, &r.ev, &r.version, &r.payload); r = (logRow{}) {
		rows = append(rows, r)
	}
	if err := iter.Close(); err != nil {
		t.Fatal(err)
	}
	if len(rows) != 4 {
		t.Fatalf("%d log rows, want 4 (a static and a clustering delta per commit)", len(rows))
	}
	for i := 0; i < len(rows); i += 2 {
		st, cl := rows[i], rows[i+1]
		v := i/2 + 1
		if st.time != cl.time || st.seq != 0 || cl.seq != 1 {
			t.Errorf("commit v%d: rows at (%v, %d) and (%v, %d), want one cdc$time, seq 0 and 1", v, st.time, st.seq, cl.time, cl.seq)
		}
		if st.op != 1 || st.ev != nil || st.version == nil || *st.version != v || st.payload != nil || st.ttl != nil || st.end != nil {
			t.Errorf("commit v%d: static delta %+v, want an update of version %d with a null ev and no TTL", v, st, v)
		}
		if cl.op != 2 || cl.ev == nil || *cl.ev != events[v-1] || cl.version != nil || cl.payload == nil || *cl.payload != fmt.Sprint("v", v) ||
			cl.ttl == nil || *cl.ttl != 600 || cl.end == nil || !*cl.end {
			t.Errorf("commit v%d: clustering delta %+v, want the insert of its event with TTL 600 ending the batch", v, cl)
		}
	}
}
