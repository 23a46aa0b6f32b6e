package engine

import (
	"bytes"
	"encoding/binary"
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/outboxnode/outbox/infra/miniscylla/cdc"
)

// cdcTestTable is (pk int, ck int, s int static, v int, l list<int>,
// m map<int, text>, st set<int>, u udt(a int, b text), fl frozen<list<int>>).
func cdcTestTable() *Table {
	udt := &Type{Kind: KindUDT, Keyspace: "ks", Name: "udt", Fields: []string{"a", "b"}, Elems: []*Type{tInt, tText}}
	pk := []*Column{{Name: "pk", Type: tInt}}
	ck := []*Column{{Name: "ck", Type: tInt}}
	others := []*Column{
		{Name: "s", Type: tInt, Kind: StaticColumn}, {Name: "v", Type: tInt},
		{Name: "l", Type: ListOf(tInt)}, {Name: "m", Type: MapOf(tInt, tText)},
		{Name: "st", Type: SetOf(tInt)}, {Name: "u", Type: udt}, {Name: "fl", Type: FrozenOf(ListOf(tInt))},
	}
	return newTable("ks", "t", pk, ck, others, TableOptions{CDC: map[string]string{"enabled": "true"}})
}

func TestCDCLogTableSchema(t *testing.T) {
	log := cdcLogTable(cdcTestTable())
	if log.Name != "t_scylla_cdc_log" || log.Options.Partitioner != cdcPartitioner {
		t.Fatalf("log table %s, partitioner %q", log.Name, log.Options.Partitioner)
	}
	want := map[string]string{
		"cdc$stream_id": "blob partition_key", "cdc$time": "timeuuid clustering", "cdc$batch_seq_no": "int clustering",
		"cdc$operation": "tinyint regular", "cdc$ttl": "bigint regular", "cdc$end_of_batch": "boolean regular",
		"pk": "int regular", "ck": "int regular",
		"s": "int regular", "cdc$deleted_s": "boolean regular",
		"v": "int regular", "cdc$deleted_v": "boolean regular",
		"l": "frozen<map<timeuuid, int>> regular", "cdc$deleted_l": "boolean regular",
		"cdc$deleted_elements_l": "frozen<set<timeuuid>> regular",
		"m":                      "frozen<map<int, text>> regular", "cdc$deleted_m": "boolean regular",
		"cdc$deleted_elements_m": "frozen<set<int>> regular",
		"st":                     "frozen<set<int>> regular", "cdc$deleted_st": "boolean regular",
		"cdc$deleted_elements_st": "frozen<set<int>> regular",
		"u":                       "frozen<udt> regular", "cdc$deleted_u": "boolean regular",
		"cdc$deleted_elements_u": "frozen<set<smallint>> regular",
		"fl":                     "frozen<list<int>> regular", "cdc$deleted_fl": "boolean regular",
	}
	got := map[string]string{}
	for _, c := range log.Columns {
		got[c.Name] = c.Type.CQL() + " " + c.Kind.String()
	}
	if !maps.Equal(got, want) {
		t.Fatalf("log columns:\n got %v\nwant %v", got, want)
	}
	if log.Clustering[0].Name != cdc.ColTime || log.Clustering[1].Name != cdc.ColBatchSeqNo {
		t.Fatalf("clustering order %s, %s", log.Clustering[0].Name, log.Clustering[1].Name)
	}
}

func TestValidateCDCOptions(t *testing.T) {
	tbl := cdcTestTable()
	tbl.Options.CDC = map[string]string{"enabled": "true", "bogus": "1"}
	if err := validateCDCOptions(tbl); err == nil {
		t.Fatal("unknown cdc option accepted")
	}
	counter := newTable("ks", "c", []*Column{{Name: "pk", Type: tInt}}, nil, []*Column{{Name: "n", Type: Prim(KindCounter)}},
		TableOptions{CDC: map[string]string{"enabled": "true"}})
	if err := validateCDCOptions(counter); err == nil {
		t.Fatal("CDC on a counter table accepted")
	}
	if err := validateCDCOptions(cdcTestTable()); err != nil {
		t.Fatal(err)
	}
}

func tu(micros int64, order byte) []byte {
	u := make([]byte, 16)
	ts := uint64(micros*10 + 0x01B21DD213814000)
	binary.BigEndian.PutUint32(u[0:4], uint32(ts))
	binary.BigEndian.PutUint16(u[4:6], uint16(ts>>32))
	binary.BigEndian.PutUint16(u[6:8], uint16(ts>>48)&0x0fff|0x1000)
	u[8], u[15] = 0x80, order
	return u
}

// applyAndLog applies ms to fresh or given data through the CDC hook and
// returns the log rows written.
func applyAndLog(t *testing.T, base *Table, data *tableData, opts map[string]string, ms ...Mutation) []RowWrite {
	t.Helper()
	base.Options.CDC = opts
	o, ok := cdcOptions(base)
	if !ok {
		t.Fatal("cdc not enabled")
	}
	state, err := newCDCState(time.Now())
	if err != nil {
		t.Fatal(err)
	}
	log := cdcLogTable(base)
	now := time.Now().UnixNano()
	table := cdcTable{base: base, log: log, opts: o, data: data, now: now}
	pending := state.collect(ms, func(string, string) cdcTable { return table })
	for i := range ms {
		data.applyMutation(&ms[i], now, 0)
	}
	var logRows []RowWrite
	for _, m := range state.logMutations(pending, now) {
		if m.Table != log.Name {
			t.Fatalf("log mutation for table %s", m.Table)
		}
		logRows = append(logRows, m.Rows...)
	}
	return logRows
}

func cellsOf(w RowWrite) map[string][]byte {
	out := map[string][]byte{}
	for _, c := range w.Cells {
		out[c.Column] = c.Value
	}
	return out
}

func TestCDCDeltasOfCellOperations(t *testing.T) {
	base := cdcTestTable()
	data := newTableData(base.clusteringCompare())
	pk, ck := encInt(1), encInt(2)
	ts := time.Now().UnixMicro()
	on := map[string]string{"enabled": "true"}

	// INSERT with a list, a map overwrite, a null and a UDT.
	k1, k2 := tu(ts, 1), tu(ts, 2)
	rows := applyAndLog(t, base, data, on, Mutation{Keyspace: "ks", Table: "t", Key: pk, Rows: []RowWrite{{
		Clustering: [][]byte{ck}, Marker: true, TS: ts,
		Cells: []CellWrite{
			{Column: "l", Op: CellClear}, {Column: "l", Op: CellElement, Key: k1, Value: encInt(10)},
			{Column: "l", Op: CellElement, Key: k2, Value: encInt(20)},
			{Column: "m", Op: CellClear}, {Column: "m", Op: CellElement, Key: encInt(5), Value: encText("five")},
			{Column: "v", Op: CellSet},
			{Column: "u", Op: CellClear}, {Column: "u", Op: CellElement, Key: []byte{0, 0}, Value: encInt(7)},
			{Column: "u", Op: CellElement, Key: []byte{0, 1}},
		},
	}}})
	if len(rows) != 1 {
		t.Fatalf("%d log rows, want 1", len(rows))
	}
	c := cellsOf(rows[0])
	if c[cdc.ColOperation][0] != byte(cdc.OpInsert) || !bytes.Equal(c[cdc.ColEndOfBatch], []byte{1}) {
		t.Fatalf("op %v end_of_batch %v", c[cdc.ColOperation], c[cdc.ColEndOfBatch])
	}
	if !bytes.Equal(c["pk"], pk) || !bytes.Equal(c["ck"], ck) {
		t.Fatal("key columns missing")
	}
	wantList := encodeCollection(2, [][]byte{k1, encInt(10), k2, encInt(20)})
	if !bytes.Equal(c["l"], wantList) || c["cdc$deleted_l"] == nil || c["cdc$deleted_elements_l"] != nil {
		t.Fatalf("list overwrite: l=% x deleted=%v elements=%v", c["l"], c["cdc$deleted_l"], c["cdc$deleted_elements_l"])
	}
	if !bytes.Equal(c["m"], encodeCollection(1, [][]byte{encInt(5), encText("five")})) || c["cdc$deleted_m"] == nil {
		t.Fatalf("map overwrite: % x", c["m"])
	}
	if _, ok := c["v"]; ok || c["cdc$deleted_v"] == nil {
		t.Fatal("null v not flagged deleted")
	}
	if !bytes.Equal(c["u"], encodeFields([][]byte{encInt(7), nil})) || c["cdc$deleted_u"] == nil || c["cdc$deleted_elements_u"] != nil {
		t.Fatalf("udt overwrite: u=% x elements=%v", c["u"], c["cdc$deleted_elements_u"])
	}

	// UPDATE: remove the list value 20 (resolved to its cell key), remove
	// map key 5, set field b of the UDT to null, with a TTL.
	rows = applyAndLog(t, base, data, on, Mutation{Keyspace: "ks", Table: "t", Key: pk, Rows: []RowWrite{{
		Clustering: [][]byte{ck}, TS: ts + 1, TTL: 60,
		Cells: []CellWrite{
			{Column: "l", Op: CellListRemove, Value: encInt(20)},
			{Column: "m", Op: CellElement, Key: encInt(5)},
			{Column: "u", Op: CellElement, Key: []byte{0, 1}},
			{Column: "v", Op: CellSet, Value: encInt(3)},
		},
	}}})
	if len(rows) != 2 {
		t.Fatalf("TTL write with deletions: %d log rows, want 2", len(rows))
	}
	dels, live := cellsOf(rows[0]), cellsOf(rows[1])
	if dels[cdc.ColTTL] != nil || binary.BigEndian.Uint64(live[cdc.ColTTL]) != 60 {
		t.Fatalf("cdc$ttl: %v / %v", dels[cdc.ColTTL], live[cdc.ColTTL])
	}
	if !bytes.Equal(dels["cdc$deleted_elements_l"], encodeCollection(1, [][]byte{k2})) || dels["l"] != nil {
		t.Fatalf("list removal: % x", dels["cdc$deleted_elements_l"])
	}
	if !bytes.Equal(dels["cdc$deleted_elements_m"], encodeCollection(1, [][]byte{encInt(5)})) {
		t.Fatalf("map removal: % x", dels["cdc$deleted_elements_m"])
	}
	if !bytes.Equal(dels["cdc$deleted_elements_u"], encodeCollection(1, [][]byte{{0, 1}})) ||
		!bytes.Equal(dels["u"], encodeFields([][]byte{nil, nil})) {
		t.Fatalf("udt field removal: u=% x elements=% x", dels["u"], dels["cdc$deleted_elements_u"])
	}
	if !bytes.Equal(live["v"], encInt(3)) || dels["cdc$end_of_batch"] != nil || live["cdc$end_of_batch"] == nil {
		t.Fatal("live row wrong")
	}
	if !bytes.Equal(rows[0].Clustering[0], rows[1].Clustering[0]) {
		t.Fatal("rows of one change have different cdc$time")
	}
}

func TestCDCPartitionRangeAndImages(t *testing.T) {
	base := cdcTestTable()
	data := newTableData(base.clusteringCompare())
	pk := encInt(1)
	ts := time.Now().UnixMicro()
	opts := map[string]string{"enabled": "true", "preimage": "true", "postimage": "true", "ttl": "100"}
	insert := Mutation{Keyspace: "ks", Table: "t", Key: pk, Rows: []RowWrite{
		{Clustering: [][]byte{encInt(1)}, Marker: true, TS: ts, Cells: []CellWrite{{Column: "v", Op: CellSet, Value: encInt(1)}}},
	}}
	rows := applyAndLog(t, base, data, opts, insert)
	ops := func(rows []RowWrite) []byte {
		var out []byte
		for _, r := range rows {
			out = append(out, cellsOf(r)[cdc.ColOperation][0])
		}
		return out
	}
	// No pre-image: the row did not exist. Post-image after the delta.
	if got := ops(rows); !slices.Equal(got, []byte{2, 9}) {
		t.Fatalf("ops %v, want [2 9]", got)
	}
	if rows[0].TTL != 100 || rows[0].TS != ts {
		t.Fatalf("log cells TTL %d TS %d", rows[0].TTL, rows[0].TS)
	}
	update := Mutation{Keyspace: "ks", Table: "t", Key: pk, Rows: []RowWrite{
		{Clustering: [][]byte{encInt(1)}, TS: ts + 1, Cells: []CellWrite{{Column: "v", Op: CellSet, Value: encInt(2)}}},
	}}
	rows = applyAndLog(t, base, data, opts, update)
	if got := ops(rows); !slices.Equal(got, []byte{0, 1, 9}) {
		t.Fatalf("ops %v, want [0 1 9]", got)
	}
	if pre := cellsOf(rows[0]); !bytes.Equal(pre["v"], encInt(1)) {
		t.Fatalf("pre-image v % x", pre["v"])
	}
	if post := cellsOf(rows[2]); !bytes.Equal(post["v"], encInt(2)) {
		t.Fatalf("post-image v % x", post["v"])
	}

	del := Mutation{Keyspace: "ks", Table: "t", Key: pk, DeletePartition: true, DeleteTS: ts + 2,
		RangeDeletes: []RangeDelete{{Start: Bound{Prefix: [][]byte{encInt(5)}, Inclusive: true}, End: Bound{}, TS: ts + 3}}}
	rows = applyAndLog(t, base, data, opts, del)
	if got := ops(rows); !slices.Equal(got, []byte{4, 5, 7}) {
		t.Fatalf("ops %v, want [4 5 7] (an unbounded end is inclusive)", got)
	}
	if !bytes.Equal(cellsOf(rows[1])["ck"], encInt(5)) || cellsOf(rows[2])["ck"] != nil {
		t.Fatal("range bounds not in the clustering column")
	}
	if bytes.Equal(rows[0].Clustering[0], rows[1].Clustering[0]) {
		t.Fatal("different timestamps share a cdc$time")
	}
}

// BenchmarkCDCHook measures the CDC hook's cost for one single-row write.
func BenchmarkCDCHook(b *testing.B) {
	base := cdcTestTable()
	o, _ := cdcOptions(base)
	table := cdcTable{base: base, log: cdcLogTable(base), opts: o, data: newTableData(base.clusteringCompare())}
	state, err := newCDCState(time.Now())
	if err != nil {
		b.Fatal(err)
	}
	ts := time.Now().UnixMicro()
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		ms := []Mutation{{Keyspace: "ks", Table: "t", Key: encInt(int32(i)), Rows: []RowWrite{{
			Clustering: [][]byte{encInt(1)}, Marker: true, TS: ts + int64(i),
			Cells: []CellWrite{{Column: "v", Op: CellSet, Value: encInt(1)}},
		}}}}
		pending := state.collect(ms, func(string, string) cdcTable { return table })
		if len(state.logMutations(pending, 0)) != 1 {
			b.Fatal("no log mutation")
		}
	}
}
