package engine

import (
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/datastax/go-cassandra-native-protocol/message"
)

// TestPagingEveryTableShape pages each query with several page sizes and
// requires exactly the unpaged rows, each once: tables without clustering
// columns (where a page used to repeat its last row), static-only rows,
// IN on partition and clustering keys, token ranges, filtering and limits.
func TestPagingEveryTableShape(t *testing.T) {
	e, sess := newTestEngine(t,
		`CREATE TABLE flat (k int PRIMARY KEY, v int)`,
		`CREATE TABLE flat2 (a int, b text, v int, PRIMARY KEY ((a, b)))`,
		`CREATE TABLE wide (k int, c int, v int, s int static, PRIMARY KEY (k, c))`)
	var b strings.Builder
	for k := 0; k < 60; k++ {
		mustExec(t, e, sess, fmt.Sprintf(`INSERT INTO flat (k, v) VALUES (%d, %d)`, k, k%5))
		mustExec(t, e, sess, fmt.Sprintf(`INSERT INTO flat2 (a, b, v) VALUES (%d, 'x%d', %d)`, k%7, k, k))
	}
	for k := 0; k < 12; k++ {
		if k%4 == 3 { // static-only partitions
			mustExec(t, e, sess, fmt.Sprintf(`INSERT INTO wide (k, s) VALUES (%d, %d)`, k, k))
			continue
		}
		for c := 0; c < 9; c++ {
			mustExec(t, e, sess, fmt.Sprintf(`INSERT INTO wide (k, c, v, s) VALUES (%d, %d, %d, %d)`, k, c, c%3, k))
		}
	}
	in := make([]string, 0, 40)
	for k := 0; k < 80; k += 2 {
		in = append(in, fmt.Sprint(k))
	}
	b.WriteString(strings.Join(in, ", "))
	for _, tc := range []struct {
		q    string
		want int
	}{
		{`SELECT k, v FROM flat`, 60},
		{`SELECT * FROM flat2`, 60},
		{`SELECT k FROM flat WHERE k IN (` + b.String() + `)`, 30},
		{`SELECT k FROM flat WHERE token(k) > -3000000000000000000`, -1},
		{`SELECT k FROM flat WHERE token(k) > -3000000000000000000 AND token(k) <= 4000000000000000000`, -1},
		{`SELECT k FROM flat WHERE v = 2 ALLOW FILTERING`, 12},
		{`SELECT k FROM flat LIMIT 25`, 25},
		{`SELECT k, c, s FROM wide`, 9*9 + 3},
		{`SELECT k, c FROM wide PER PARTITION LIMIT 2`, 9*2 + 3},
		{`SELECT k, c FROM wide PER PARTITION LIMIT 2 LIMIT 13`, 13},
		{`SELECT k, c FROM wide WHERE k IN (0, 1, 3, 5) AND c IN (1, 4, 7)`, 9},
		{`SELECT k, c FROM wide WHERE k IN (0, 1, 3, 5)`, 9*3 + 1},
		{`SELECT k, c FROM wide WHERE v = 1 ALLOW FILTERING`, 27},
		{`SELECT k, c FROM wide WHERE token(k) >= 0`, -1},
		{`SELECT DISTINCT k, s FROM wide`, 12},
		{`SELECT k, c FROM wide LIMIT 40`, 40},
	} {
		want := pages(t, e, sess, tc.q, 0)
		if tc.want >= 0 && len(want) != tc.want {
			t.Fatalf("%s: %d rows unpaged, want %d", tc.q, len(want), tc.want)
		}
		if len(want) == 0 {
			t.Fatalf("%s: no rows", tc.q)
		}
		for _, size := range []int32{1, 2, 7, 13, 100} {
			if got := pages(t, e, sess, tc.q, size); !reflect.DeepEqual(got, want) {
				t.Errorf("%s with page size %d: %d rows, want the %d unpaged rows", tc.q, size, len(got), len(want))
			}
		}
	}
}

// TestPagingStateIsUntrusted feeds altered and foreign paging states: each
// gets an Invalid error, never a panic or rows from the wrong place.
func TestPagingStateIsUntrusted(t *testing.T) {
	e, sess := newTestEngine(t,
		`CREATE TABLE flat (k int PRIMARY KEY, v int)`,
		`CREATE TABLE wide (a int, b int, c int, v int, PRIMARY KEY ((a, b), c))`)
	for k := 0; k < 10; k++ {
		mustExec(t, e, sess, fmt.Sprintf(`INSERT INTO flat (k, v) VALUES (%d, %d)`, k, k))
		mustExec(t, e, sess, fmt.Sprintf(`INSERT INTO wide (a, b, c, v) VALUES (%d, %d, %d, %d)`, k, k, k, k))
	}
	first := func(q string) []byte {
		res := e.Handle(t.Context(), sess, &message.Query{Query: q, Options: &message.QueryOptions{PageSize: 3}})
		rows, ok := res.(*message.RowsResult)
		if !ok || rows.Metadata.PagingState == nil {
			t.Fatalf("%s: %v", q, res)
		}
		return rows.Metadata.PagingState
	}
	flatState, wideState := first(`SELECT * FROM flat`), first(`SELECT * FROM wide`)
	flipped := append([]byte(nil), flatState...)
	flipped[5] ^= 0x40
	forged := (&pagingState{token: 1, key: []byte{0, 0, 0, 1}}).encode() // token does not match the key
	// Well-formed and checksummed, but a 3-byte int clustering value.
	wideKey := partitionKeyBytes([][]byte{encInt(1), encInt(1)})
	badCK := (&pagingState{token: Token(wideKey), key: wideKey, ck: [][]byte{{1, 2, 3}}}).encode()
	for name, tc := range map[string]struct {
		q     string
		state []byte
	}{
		"garbage":               {`SELECT * FROM flat`, []byte("not a paging state at all")},
		"one byte":              {`SELECT * FROM flat`, []byte{0}},
		"flipped bit":           {`SELECT * FROM flat`, flipped},
		"truncated":             {`SELECT * FROM flat`, flatState[:len(flatState)-5]},
		"forged token":          {`SELECT * FROM flat`, forged},
		"other table's shape":   {`SELECT * FROM wide`, flatState},
		"wide state on flat":    {`SELECT * FROM flat`, wideState},
		"3-byte int clustering": {`SELECT * FROM wide`, badCK},
	} {
		res := e.Handle(t.Context(), sess, &message.Query{Query: tc.q, Options: &message.QueryOptions{PageSize: 3, PagingState: tc.state}})
		inv, ok := res.(*message.Invalid)
		if !ok || !strings.Contains(inv.ErrorMessage, "Invalid paging state") {
			t.Errorf("%s: %v, want an Invalid paging state error", name, res)
		}
	}
}

func mustExec(t *testing.T, e *Engine, sess *Session, q string) {
	t.Helper()
	if res := query(e, sess, q); isError(res) {
		t.Fatalf("%s: %v", q, res)
	}
}
