package engine

import (
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/datastax/go-cassandra-native-protocol/message"
)

// TestGroupBy checks grouped aggregates on partition and clustering
// prefixes, that paging never splits a group, and the errors for groupings
// that are not a primary key prefix.
func TestGroupBy(t *testing.T) {
	e, sess := newTestEngine(t,
		`CREATE TABLE g (k int, c1 int, c2 int, v int, PRIMARY KEY (k, c1, c2))`,
		`CREATE TABLE flat (k int PRIMARY KEY, v int)`)
	for k := 0; k < 5; k++ {
		mustExec(t, e, sess, fmt.Sprintf(`INSERT INTO flat (k, v) VALUES (%d, %d)`, k, k*10))
		for c1 := 0; c1 < 4; c1++ {
			for c2 := 0; c2 < 3; c2++ {
				mustExec(t, e, sess, fmt.Sprintf(`INSERT INTO g (k, c1, c2, v) VALUES (%d, %d, %d, %d)`, k, c1, c2, k*100+c1*10+c2))
			}
		}
	}
	ints := func(rows [][][]byte) [][]int64 {
		out := make([][]int64, len(rows))
		for i, r := range rows {
			for _, v := range r {
				out[i] = append(out[i], signedBE(v))
			}
		}
		return out
	}
	byK := pages(t, e, sess, `SELECT k, count(*), sum(v), min(c2), max(v), c1 FROM g GROUP BY k`, 0)
	if len(byK) != 5 {
		t.Fatalf("GROUP BY k: %d groups, want 5", len(byK))
	}
	for _, r := range ints(byK) {
		k := r[0]
		want := []int64{k, 12, 12*k*100 + 3*(0+10+20+30) + 4*(0+1+2), 0, k*100 + 32, 0}
		if !reflect.DeepEqual(r, want) {
			t.Errorf("GROUP BY k, group %d: %v, want %v", k, r, want)
		}
	}
	inPart := ints(pages(t, e, sess, `SELECT c1, avg(v), c2 FROM g WHERE k = 2 GROUP BY c1`, 0))
	if want := [][]int64{{0, 201, 0}, {1, 211, 0}, {2, 221, 0}, {3, 231, 0}}; !reflect.DeepEqual(inPart, want) {
		t.Errorf("GROUP BY c1 in partition 2: %v, want %v", inPart, want)
	}
	for _, q := range []string{
		`SELECT k, c1, count(*), max(v) FROM g GROUP BY k, c1`,
		`SELECT k, c1, c2, v FROM g GROUP BY k, c1, c2`,
		`SELECT k, c1, v FROM g GROUP BY k, c1`,
		`SELECT k, c1, count(*) FROM g GROUP BY k, c1 LIMIT 7`,
		`SELECT k, c1, count(*) FROM g WHERE k IN (1, 3) GROUP BY k, c1`,
		`SELECT k, count(*) FROM g WHERE v > 150 GROUP BY k ALLOW FILTERING`,
		`SELECT k, count(*), sum(v) FROM flat GROUP BY k`,
	} {
		want := pages(t, e, sess, q, 0)
		if len(want) == 0 {
			t.Fatalf("%s: no groups", q)
		}
		for _, size := range []int32{1, 2, 3, 5, 100} {
			if got := pages(t, e, sess, q, size); !reflect.DeepEqual(got, want) {
				t.Errorf("%s with page size %d: %v, want %v", q, size, ints(got), ints(want))
			}
		}
	}
	if n := len(pages(t, e, sess, `SELECT k, c1 FROM g GROUP BY k, c1 LIMIT 7`, 3)); n != 7 {
		t.Errorf("LIMIT 7 over groups, paged by 3: %d rows", n)
	}
	for q, msg := range map[string]string{
		`SELECT count(*) FROM g GROUP BY c1`:             "Group by currently only support groups of columns following their declared order in the PRIMARY KEY",
		`SELECT count(*) FROM g GROUP BY k, c2`:          "following their declared order",
		`SELECT count(*) FROM g GROUP BY v`:              "following their declared order",
		`SELECT count(*) FROM g GROUP BY nope`:           "Undefined column name nope",
		`SELECT count(*) FROM g WHERE k = 1 GROUP BY c2`: "following their declared order",
	} {
		res := query(e, sess, q)
		inv, ok := res.(*message.Invalid)
		if !ok || !strings.Contains(inv.ErrorMessage, msg) {
			t.Errorf("%s: %v, want Invalid %q", q, res, msg)
		}
	}
}
