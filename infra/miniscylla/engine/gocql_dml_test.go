package engine_test

import (
	"fmt"
	"math/big"
	"net"
	"reflect"
	"testing"
	"time"

	"github.com/gocql/gocql"
	"gopkg.in/inf.v0"
)

func TestGocqlTypesRoundTrip(t *testing.T) {
	s := setupKeyspace(t)
	exec(t, s, `CREATE TYPE ks.point (x int, y int)`)
	exec(t, s, `CREATE TABLE ks.types (k int PRIMARY KEY, a ascii, t text, vc varchar, u uuid, tu timeuuid, i int, bi bigint,
		si smallint, ti tinyint, b boolean, ts timestamp, d date, tm time, bl blob, db double, f float, dec decimal,
		vi varint, ip inet, du duration, l list<int>, st set<text>, m map<text, int>, fl frozen<list<int>>,
		tp tuple<int, text>, p frozen<point>)`)
	ts := time.UnixMilli(1700000000123).UTC()
	in := map[string]any{
		"a": "ascii", "t": "text ✓", "vc": "varchar", "u": gocql.MustRandomUUID(), "tu": gocql.TimeUUID(),
		"i": 42, "bi": int64(-1 << 40), "si": int16(-300), "ti": int8(-7), "b": true, "ts": ts,
		"d": time.Date(2024, 2, 29, 0, 0, 0, 0, time.UTC), "tm": 13*time.Hour + 5*time.Second, "bl": []byte{0, 1, 0xff},
		"db": 3.25, "f": float32(1.5), "dec": inf.NewDec(-12345, 3), "vi": new(big.Int).Lsh(big.NewInt(-3), 70),
		"ip": net.ParseIP("10.1.2.3").To4(), "du": gocql.Duration{Months: 1, Days: 2, Nanoseconds: 3e9},
		"l": []int{3, 1, 2}, "st": []string{"b", "a"}, "m": map[string]int{"x": 1, "y": 2}, "fl": []int{9, 8},
		"p": map[string]any{"x": 1, "y": -1},
	}
	cols := []string{"k"}
	args := []any{1}
	for c, v := range in {
		cols = append(cols, c)
		args = append(args, v)
	}
	marks := "?"
	names := "k"
	for _, c := range cols[1:] {
		marks += ", ?"
		names += ", " + c
	}
	exec(t, s, fmt.Sprintf(`INSERT INTO ks.types (%s) VALUES (%s)`, names, marks), args...)
	exec(t, s, `UPDATE ks.types SET tp = (5, 'five') WHERE k = 1`)
	out := map[string]any{}
	if err := s.Session.Query(`SELECT * FROM ks.types WHERE k = 1`).MapScan(out); err != nil {
		t.Fatalf("select: %v", err)
	}
	check := func(col string, want any) {
		t.Helper()
		if got := out[col]; !reflect.DeepEqual(got, want) {
			t.Errorf("%s = %#v (%T), want %#v (%T)", col, got, got, want, want)
		}
	}
	check("a", "ascii")
	check("t", "text ✓")
	check("u", in["u"])
	check("tu", in["tu"])
	check("i", 42)
	check("bi", int64(-1<<40))
	check("si", int16(-300))
	check("ti", int8(-7))
	check("b", true)
	check("ts", ts)
	check("d", in["d"])
	check("tm", in["tm"])
	check("bl", []byte{0, 1, 0xff})
	check("db", 3.25)
	check("f", float32(1.5))
	check("ip", "10.1.2.3") // MapScan renders inet as text
	check("du", in["du"])
	check("l", []int{3, 1, 2})
	check("st", []string{"a", "b"})
	check("m", map[string]int{"x": 1, "y": 2})
	check("fl", []int{9, 8})
	check("p", map[string]any{"x": 1, "y": -1})
	check("tp[0]", 5)
	check("tp[1]", "five")
	if dec, ok := out["dec"].(*inf.Dec); !ok || dec.Cmp(inf.NewDec(-12345, 3)) != 0 {
		t.Errorf("dec = %v", out["dec"])
	}
	if vi, ok := out["vi"].(*big.Int); !ok || vi.Cmp(in["vi"].(*big.Int)) != 0 {
		t.Errorf("vi = %v", out["vi"])
	}

	// Literals are converted to the column type.
	exec(t, s, `INSERT INTO ks.types (k, ts, d, tm, ip, u, bl, dec, vi, du, db) VALUES (2, '2024-01-02 03:04:05+0000', '2024-01-02',
		'01:02:03.5', '::1', 123e4567-e89b-12d3-a456-426614174000, 0xcafe, 1.50, -99, 1h30m, 2.5)`)
	var gotTS, gotD time.Time
	var gotTM time.Duration
	var gotDur gocql.Duration
	var gotIP net.IP
	var gotBL []byte
	if err := s.Session.Query(`SELECT ts, d, tm, ip, bl, du FROM ks.types WHERE k = 2`).Scan(&gotTS, &gotD, &gotTM, &gotIP, &gotBL, &gotDur); err != nil {
		t.Fatal(err)
	}
	if !gotTS.Equal(time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)) || !gotD.Equal(time.Date(2024, 1, 2, 0, 0, 0, 0, time.UTC)) ||
		gotTM != time.Hour+2*time.Minute+3500*time.Millisecond || !gotIP.Equal(net.IPv6loopback) ||
		!reflect.DeepEqual(gotBL, []byte{0xca, 0xfe}) || gotDur.Nanoseconds != int64(90*time.Minute) {
		t.Errorf("literals: ts=%v d=%v tm=%v ip=%v bl=%x du=%+v", gotTS, gotD, gotTM, gotIP, gotBL, gotDur)
	}
}

func TestGocqlCollectionsAndUpdates(t *testing.T) {
	s := setupKeyspace(t)
	exec(t, s, `CREATE TYPE ks.addr (street text, zip int)`)
	exec(t, s, `CREATE TABLE ks.c (k int PRIMARY KEY, l list<text>, st set<int>, m map<text, text>, a addr, n int)`)
	exec(t, s, `INSERT INTO ks.c (k, l, st, m, a) VALUES (1, ['b'], {2, 1}, {'x': '1'}, {street: 'main', zip: 1})`)
	exec(t, s, `UPDATE ks.c SET l = l + ['c'], l = ['a'] + l, st = st + {3}, m['y'] = '2', a.zip = 2 WHERE k = 1`)
	exec(t, s, `UPDATE ks.c SET st = st - {1}, m = m - {'x'} WHERE k = 1`)
	exec(t, s, `UPDATE ks.c SET l[1] = 'B' WHERE k = 1`)
	var l []string
	var st []int
	var m map[string]string
	a := map[string]any{}
	if err := s.Session.Query(`SELECT l, st, m, a FROM ks.c WHERE k = 1`).Scan(&l, &st, &m, &a); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(l, []string{"a", "B", "c"}) || !reflect.DeepEqual(st, []int{2, 3}) ||
		!reflect.DeepEqual(m, map[string]string{"y": "2"}) || a["street"] != "main" || a["zip"] != 2 {
		t.Errorf("l=%v st=%v m=%v a=%v", l, st, m, a)
	}
	exec(t, s, `DELETE m['y'], l[0] FROM ks.c WHERE k = 1`)
	exec(t, s, `UPDATE ks.c SET l = l - ['c'] WHERE k = 1`)
	if err := s.Session.Query(`SELECT l, m FROM ks.c WHERE k = 1`).Scan(&l, &m); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(l, []string{"B"}) || len(m) != 0 {
		t.Errorf("after deletes l=%v m=%v", l, m)
	}
	// An UNSET value leaves the cell untouched; null deletes it.
	exec(t, s, `UPDATE ks.c SET n = ? WHERE k = 1`, 5)
	exec(t, s, `UPDATE ks.c SET n = ?, l = ? WHERE k = 1`, gocql.UnsetValue, nil)
	var n int
	if err := s.Session.Query(`SELECT n, l FROM ks.c WHERE k = 1`).Scan(&n, &l); err != nil {
		t.Fatal(err)
	}
	if n != 5 || l != nil {
		t.Errorf("n=%d l=%v, want 5 and nil", n, l)
	}
	// A row with no marker disappears when its last cell is deleted.
	exec(t, s, `UPDATE ks.c SET n = 1 WHERE k = 2`)
	exec(t, s, `DELETE n FROM ks.c WHERE k = 2`)
	if err := s.Session.Query(`SELECT n FROM ks.c WHERE k = 2`).Scan(&n); err != gocql.ErrNotFound {
		t.Errorf("row without marker still visible: %v", err)
	}
}
