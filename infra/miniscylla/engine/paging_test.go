package engine

import (
	"context"
	"fmt"
	"reflect"
	"testing"

	"github.com/datastax/go-cassandra-native-protocol/message"
)

// pages runs q with pageSize, following paging states, and returns all rows.
func pages(t *testing.T, e *Engine, sess *Session, q string, pageSize int32) [][][]byte {
	t.Helper()
	var all [][][]byte
	var state []byte
	for i := 0; ; i++ {
		res := e.Handle(context.Background(), sess, &message.Query{Query: q,
			Options: &message.QueryOptions{PageSize: pageSize, PagingState: state}})
		rows, ok := res.(*message.RowsResult)
		if !ok {
			t.Fatalf("%s: %v", q, res)
		}
		all = append(all, rows.Data...)
		if state = rows.Metadata.PagingState; state == nil {
			return all
		}
		if pageSize > 0 && len(rows.Data) != int(pageSize) {
			t.Fatalf("%s: short page of %d rows before the end", q, len(rows.Data))
		}
		if i > 1000 {
			t.Fatalf("%s: paging does not terminate", q)
		}
	}
}

func TestPagingMatchesUnpagedResults(t *testing.T) {
	e, sess := newTestEngine(t,
		`CREATE TABLE p (k int, c int, v int, s int static, PRIMARY KEY (k, c)) WITH CLUSTERING ORDER BY (c DESC)`)
	for k := 0; k < 10; k++ {
		for c := 0; c < 10; c++ {
			if res := query(e, sess, fmt.Sprintf(`INSERT INTO p (k, c, v, s) VALUES (%d, %d, %d, %d)`, k, c, k*c, k)); isError(res) {
				t.Fatal(res)
			}
		}
	}
	// A value range on a DESC column deletes the same values as on an ASC one.
	query(e, sess, `DELETE FROM p WHERE k = 3 AND c >= 2 AND c < 5`)
	got := pages(t, e, sess, `SELECT c FROM p WHERE k = 3`, 0)
	var cs []int64
	for _, r := range got {
		cs = append(cs, signedBE(r[0]))
	}
	if !reflect.DeepEqual(cs, []int64{9, 8, 7, 6, 5, 1, 0}) {
		t.Errorf("after range delete: %v", cs)
	}
	// A partition whose rows are all deleted still shows its static row.
	query(e, sess, `DELETE FROM p WHERE k = 7 AND c >= 0`)
	for _, q := range []string{
		`SELECT k, c, s FROM p`,
		`SELECT k, c FROM p LIMIT 37`,
		`SELECT k, c FROM p PER PARTITION LIMIT 3`,
		`SELECT k, c FROM p WHERE k IN (1, 3, 5) ORDER BY c ASC`,
		`SELECT k, c FROM p WHERE k IN (1, 3, 5) AND c > 2 ORDER BY c ASC LIMIT 10`,
		`SELECT k, c, v FROM p WHERE v > 20 ALLOW FILTERING`,
		`SELECT k, c FROM p WHERE k = 5 AND c >= 3 AND c <= 6`,
		`SELECT k, c FROM p WHERE k = 5 AND c < 3 ORDER BY c ASC`,
		`SELECT DISTINCT k, s FROM p`,
	} {
		want := pages(t, e, sess, q, 0)
		if len(want) == 0 {
			t.Fatalf("%s: no rows", q)
		}
		for _, size := range []int32{1, 2, 3, 7, 100} {
			if got := pages(t, e, sess, q, size); !reflect.DeepEqual(got, want) {
				t.Errorf("%s with page size %d: %d rows differ from the %d unpaged rows", q, size, len(got), len(want))
			}
		}
	}
	for q, want := range map[string]int{
		`SELECT c FROM p WHERE k = 5 AND c >= 3 AND c <= 6`: 4,
		`SELECT c FROM p WHERE k = 5 AND c > 3 AND c < 6`:   2,
		`SELECT c FROM p WHERE k = 5 AND c = 4`:             1,
		`SELECT c FROM p WHERE k = 5 AND c > 9`:             0,
	} {
		if got := len(pages(t, e, sess, q, 0)); got != want {
			t.Errorf("%s: %d rows, want %d", q, got, want)
		}
	}
	rows := pages(t, e, sess, `SELECT k, c, s FROM p WHERE k = 7`, 0)
	if len(rows) != 1 || rows[0][1] != nil || signedBE(rows[0][2]) != 7 {
		t.Errorf("static-only partition: %v", rows)
	}
}
