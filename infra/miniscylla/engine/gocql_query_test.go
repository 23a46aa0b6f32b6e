package engine_test

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/gocql/gocql"
	"github.com/scylladb/gocqlx/v2/qb"
)

func TestGocqlPagingOverManyRows(t *testing.T) {
	s := setupKeyspace(t)
	exec(t, s, `CREATE TABLE ks.p (k int, c int, v text, PRIMARY KEY (k, c))`)
	const parts, perPart = 1100, 10
	b := s.Session.Batch(gocql.UnloggedBatch)
	for k := 0; k < parts; k++ {
		for c := 0; c < perPart; c++ {
			b.Query(`INSERT INTO ks.p (k, c, v) VALUES (?, ?, ?)`, k, c, "x")
		}
		if len(b.Entries) >= 500 {
			if err := s.Session.ExecuteBatch(b); err != nil {
				t.Fatal(err)
			}
			b = s.Session.Batch(gocql.UnloggedBatch)
		}
	}
	if err := s.Session.ExecuteBatch(b); err != nil {
		t.Fatal(err)
	}
	iter := s.Session.Query(`SELECT k, c FROM ks.p`).PageSize(3000).Iter()
	seen := map[[2]int]bool{}
	var k, c int
	for iter.Scan(&k, &c) {
		seen[[2]int{k, c}] = true
	}
	if err := iter.Close(); err != nil {
		t.Fatal(err)
	}
	if len(seen) != parts*perPart {
		t.Fatalf("paged %d distinct rows, want %d", len(seen), parts*perPart)
	}
	// Half the ring, one row per partition, over several pages.
	it2 := s.Session.Query(`SELECT k FROM ks.p WHERE token(k) > ? PER PARTITION LIMIT 1`, int64(0)).PageSize(100).Iter()
	n := 0
	for it2.Scan(&k) {
		n++
	}
	if err := it2.Close(); err != nil {
		t.Fatal(err)
	}
	if n == 0 || n >= parts {
		t.Errorf("token range with per partition limit returned %d rows", n)
	}
	var count int64
	if err := s.Session.Query(`SELECT COUNT(*) FROM ks.p`).Scan(&count); err != nil || count != parts*perPart {
		t.Errorf("count = %d, %v", count, err)
	}
	// Garbage paging state is rejected, not a crash.
	err := s.Session.Query(`SELECT k FROM ks.p`).PageState([]byte("garbage")).Exec()
	if err == nil || !strings.Contains(err.Error(), "paging state") {
		t.Errorf("garbage paging state: %v", err)
	}
}

func TestGocqlClusteringQueries(t *testing.T) {
	s := setupKeyspace(t)
	exec(t, s, `CREATE TABLE ks.ev (a uuid, id timeuuid, n int, s text static, PRIMARY KEY (a, id)) WITH CLUSTERING ORDER BY (id ASC)`)
	agg := gocql.MustRandomUUID()
	base := time.Now().Add(-time.Hour)
	var ids []gocql.UUID
	for i := 0; i < 10; i++ {
		id := gocql.UUIDFromTime(base.Add(time.Duration(i) * time.Minute))
		ids = append(ids, id)
		exec(t, s, `INSERT INTO ks.ev (a, id, n, s) VALUES (?, ?, ?, ?)`, agg, id, i, "static")
	}
	stmt, names := qb.Select("ks.ev").Columns("n").Where(qb.Eq("a"), qb.GtNamed("id", "from"), qb.LtOrEqNamed("id", "to")).ToCql()
	var ns []int
	if err := s.Query(stmt, names).BindMap(qb.M{"a": agg, "from": ids[2], "to": ids[5]}).Select(&ns); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(ns, []int{3, 4, 5}) {
		t.Errorf("range = %v", ns)
	}
	ns = nil
	if err := s.Query(`SELECT n FROM ks.ev WHERE a = ? AND id > maxTimeuuid(?) AND id < minTimeuuid(?) ORDER BY id DESC`, nil).
		Bind(agg, base.Add(90*time.Second), base.Add(6*time.Minute)).Select(&ns); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(ns, []int{5, 4, 3, 2}) {
		t.Errorf("timeuuid functions + reverse = %v", ns)
	}
	ns = nil
	if err := s.Query(`SELECT n FROM ks.ev WHERE a IN ? AND (id) >= (?) LIMIT 2`, nil).Bind([]gocql.UUID{agg}, ids[7]).Select(&ns); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(ns, []int{7, 8}) {
		t.Errorf("IN ? + tuple + limit = %v", ns)
	}
	ns = nil
	if err := s.Query(`SELECT n FROM ks.ev WHERE a = ? AND n >= 8 ALLOW FILTERING`, nil).Bind(agg).Select(&ns); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(ns, []int{8, 9}) {
		t.Errorf("filtering = %v", ns)
	}
	if err := s.Session.Query(`SELECT n FROM ks.ev WHERE n = 1`).Exec(); err == nil || !strings.Contains(err.Error(), "ALLOW FILTERING") {
		t.Errorf("filter without ALLOW FILTERING: %v", err)
	}
	var wt int64
	var sv string
	if err := s.Session.Query(`SELECT writetime(n), s FROM ks.ev WHERE a = ? LIMIT 1`, agg).Scan(&wt, &sv); err != nil || wt <= 0 || sv != "static" {
		t.Errorf("writetime = %d, s = %q, %v", wt, sv, err)
	}
	var distinct []gocql.UUID
	if err := s.Query(`SELECT DISTINCT a FROM ks.ev`, nil).Select(&distinct); err != nil || len(distinct) != 1 {
		t.Errorf("distinct = %v, %v", distinct, err)
	}
	// Range and row deletes.
	exec(t, s, `DELETE FROM ks.ev WHERE a = ? AND id >= ? AND id < ?`, agg, ids[0], ids[3])
	exec(t, s, `DELETE FROM ks.ev WHERE a = ? AND id = ?`, agg, ids[9])
	var count int
	if err := s.Session.Query(`SELECT COUNT(*) FROM ks.ev WHERE a = ?`, agg).Scan(&count); err != nil || count != 6 {
		t.Errorf("count after deletes = %d, %v", count, err)
	}
	exec(t, s, `DELETE FROM ks.ev WHERE a = ?`, agg)
	if err := s.Session.Query(`SELECT COUNT(*) FROM ks.ev WHERE a = ?`, agg).Scan(&count); err != nil || count != 0 {
		t.Errorf("count after partition delete = %d, %v", count, err)
	}
	err := s.Session.Query(`SELECT nope FROM ks.ev`).Exec()
	if err == nil || !strings.Contains(err.Error(), "Undefined column name nope") {
		t.Errorf("unknown column: %v", err)
	}
	if err := s.Session.Query(`SELEC x`).Exec(); err == nil {
		t.Error("syntax error accepted")
	}
}
