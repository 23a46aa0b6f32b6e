package engine

import "testing"

// TestStampTakesTheApplyTime: a mutation whose client sent no timestamp
// gets the clock of its apply, later than any stamp before, whatever time
// it was parsed at; one with a client timestamp keeps it.
func TestStampTakesTheApplyTime(t *testing.T) {
	e := &Engine{}
	parsedLongAgo := int64(1_000)
	server := func() []Mutation {
		return []Mutation{{
			ServerTS: true, DeletePartition: true, DeleteTS: parsedLongAgo,
			RangeDeletes: []RangeDelete{{TS: parsedLongAgo}},
			Rows:         []RowWrite{{TS: parsedLongAgo}, {TS: parsedLongAgo}},
		}}
	}
	const applyNanos = 5_000_000_000
	first := server()
	e.stampLocked(first, applyNanos)
	m := first[0]
	want := int64(applyNanos / 1e3)
	if m.DeleteTS != want || m.RangeDeletes[0].TS != want || m.Rows[0].TS != want || m.Rows[1].TS != want {
		t.Fatalf("stamped %+v, want every timestamp %d", m, want)
	}
	// The same clock reading again (or a clock that stepped back) still
	// gives a later stamp, so apply order and timestamp order agree.
	second := server()
	e.stampLocked(second, applyNanos-1_000_000)
	if got := second[0].Rows[0].TS; got != want+1 {
		t.Fatalf("second stamp %d, want %d", got, want+1)
	}
	client := []Mutation{{Rows: []RowWrite{{TS: 42}}}}
	e.stampLocked(client, applyNanos)
	if got := client[0].Rows[0].TS; got != 42 {
		t.Fatalf("client timestamp became %d, want 42 kept", got)
	}
}
