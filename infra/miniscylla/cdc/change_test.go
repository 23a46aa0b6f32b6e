package cdc

import (
	"encoding/binary"
	"reflect"
	"testing"
	"time"
)

func testLog(t *testing.T) *Log {
	t.Helper()
	gen, err := NewGeneration(time.Unix(0, 0), 2, 2, 9)
	if err != nil {
		t.Fatal(err)
	}
	return NewLog(gen, NewClock(9))
}

func i32(v int32) []byte { return binary.BigEndian.AppendUint32(nil, uint32(v)) }

func TestRowsOrderAndBatchColumns(t *testing.T) {
	l := testLog(t)
	keys1 := map[string][]byte{"pk": i32(1), "ck": i32(1)}
	keys2 := map[string][]byte{"pk": i32(1), "ck": i32(2)}
	c := Change{Token: 77, Micros: 1_700_000_000_000_000, Rows: []RowChange{
		{Keys: keys1, Deltas: []Delta{{Op: OpInsert, TTL: 30, Cells: map[string][]byte{"v": i32(5)}}},
			Before: map[string][]byte{"v": i32(4), "w": i32(9)}, After: map[string][]byte{"v": i32(5), "w": i32(9)}},
		{Keys: keys2, Deltas: []Delta{{Op: OpUpdate, Cells: map[string][]byte{"cdc$deleted_w": {1}, "w": nil}}},
			After: map[string][]byte{"v": i32(3)}},
	}}
	opts := Options{Enabled: true, Preimage: ImageChanged, Postimage: true, TTL: 60}
	rows := l.Rows(opts, c)

	wantOps := []Operation{OpPreImage, OpInsert, OpUpdate, OpPostImage, OpPostImage}
	if len(rows) != len(wantOps) {
		t.Fatalf("%d rows, want %d", len(rows), len(wantOps))
	}
	stream := l.Generation().StreamFor(77)
	for i, r := range rows {
		if Operation(r.Cells[ColOperation][0]) != wantOps[i] {
			t.Errorf("row %d op %d, want %d", i, r.Cells[ColOperation][0], wantOps[i])
		}
		if r.SeqNo != int32(i) || !reflect.DeepEqual(r.Cells[ColBatchSeqNo], i32(int32(i))) {
			t.Errorf("row %d seq %d / % x", i, r.SeqNo, r.Cells[ColBatchSeqNo])
		}
		if r.Stream != stream || string(r.Cells[ColStreamID]) != string(stream[:]) {
			t.Errorf("row %d in stream %s, want %s", i, r.Stream, stream)
		}
		if r.Time != rows[0].Time || r.Time.Micros() != c.Micros {
			t.Errorf("row %d time %x (µs %d)", i, r.Time, r.Time.Micros())
		}
		_, eob := r.Cells[ColEndOfBatch]
		if eob != (i == len(rows)-1) {
			t.Errorf("row %d end_of_batch present=%v", i, eob)
		}
		if r.Cells["pk"] == nil || r.Cells["ck"] == nil {
			t.Errorf("row %d lacks key columns", i)
		}
	}
	// The pre-image holds only the touched column v, not w.
	if _, ok := rows[0].Cells["w"]; ok || rows[0].Cells["v"] == nil {
		t.Errorf("pre-image cells %v", rows[0].Cells)
	}
	if got := rows[1].Cells[ColTTL]; binary.BigEndian.Uint64(got) != 30 {
		t.Errorf("cdc$ttl % x", got)
	}
	if _, ok := rows[2].Cells[ColTTL]; ok {
		t.Error("cdc$ttl set on a write without TTL")
	}
	if v, ok := rows[2].Cells["w"]; !ok || v != nil {
		t.Error("explicit null lost")
	}
}

func TestRowsImagesModes(t *testing.T) {
	l := testLog(t)
	r := RowChange{
		Keys:   map[string][]byte{"pk": i32(1)},
		Deltas: []Delta{{Op: OpUpdate, Cells: map[string][]byte{"v": i32(2)}}},
		Before: map[string][]byte{"v": i32(1), "w": i32(7)},
	}
	full := l.Rows(Options{Preimage: ImageFull}, Change{Micros: 10, Rows: []RowChange{r}})
	if len(full) != 2 || full[0].Cells["w"] == nil {
		t.Fatalf("full pre-image: %d rows, %v", len(full), full[0].Cells)
	}
	none := l.Rows(Options{}, Change{Micros: 11, Rows: []RowChange{r}})
	if len(none) != 1 || Operation(none[0].Cells[ColOperation][0]) != OpUpdate {
		t.Fatalf("images off: %d rows", len(none))
	}
	r.Before = nil
	absent := l.Rows(Options{Preimage: ImageFull}, Change{Micros: 12, Rows: []RowChange{r}})
	if len(absent) != 1 {
		t.Fatalf("pre-image of a missing row written: %d rows", len(absent))
	}
	keysOnly := l.Rows(Options{Delta: DeltaKeys}, Change{Micros: 13, Rows: []RowChange{r}})
	if _, ok := keysOnly[0].Cells["v"]; ok || keysOnly[0].Cells["pk"] == nil {
		t.Fatalf("delta 'keys' row: %v", keysOnly[0].Cells)
	}
	if rows := l.Rows(Options{Postimage: true}, Change{Micros: 14, Rows: []RowChange{{Keys: r.Keys, After: r.Before}}}); rows != nil {
		t.Fatalf("change without deltas produced %d rows", len(rows))
	}
}

func TestEncodeBlobSet(t *testing.T) {
	a, b := NewStreamID(5, 0, 0), NewStreamID(-5, 0, 0)
	got := EncodeBlobSet([]StreamID{a, b})
	want := append(append(append([]byte{0, 0, 0, 2, 0, 0, 0, 16}, a[:]...), 0, 0, 0, 16), b[:]...)
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got % x", got)
	}
}
