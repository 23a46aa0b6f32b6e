package engine_test

import (
	"testing"
	"time"

	"github.com/gocql/gocql"
	"github.com/scylladb/gocqlx/v2/qb"

	"github.com/outboxnode/outbox/internal/poll"
)

func TestGocqlLoggedBatchAcrossTables(t *testing.T) {
	s := setupKeyspace(t)
	exec(t, s, `CREATE TABLE ks.orders (id uuid PRIMARY KEY, status text, version int)`)
	exec(t, s, `CREATE TABLE ks.outbox (agg uuid, ev timeuuid, payload blob, PRIMARY KEY (agg, ev))`)
	id := gocql.MustRandomUUID()
	b := s.Session.Batch(gocql.LoggedBatch)
	b.Query(`INSERT INTO ks.orders (id, status, version) VALUES (?, ?, ?)`, id, "CREATED", 1)
	b.Query(`INSERT INTO ks.outbox (agg, ev, payload) VALUES (?, now(), ?)`, id, []byte("e1"))
	b.Query(`UPDATE ks.orders SET version = 2 WHERE id = ` + id.String())
	if err := s.Session.ExecuteBatch(b); err != nil {
		t.Fatalf("batch: %v", err)
	}
	var wtOrder, wtEvent int64
	var version int
	if err := s.Session.Query(`SELECT version, writetime(status) FROM ks.orders WHERE id = ?`, id).Scan(&version, &wtOrder); err != nil {
		t.Fatal(err)
	}
	if err := s.Session.Query(`SELECT writetime(payload) FROM ks.outbox WHERE agg = ?`, id).Scan(&wtEvent); err != nil {
		t.Fatal(err)
	}
	if version != 2 || wtOrder != wtEvent {
		t.Errorf("version=%d writetimes %d vs %d: want one batch timestamp", version, wtOrder, wtEvent)
	}
	// gocqlx sends a text batch as one prepared string; the schema code uses it.
	//lint:ignore SA1019 the text batch form is what gocqlx users send
	stmt, names := qb.Batch().
		Add(qb.Insert("ks.orders").Columns("id", "status", "version")).
		AddWithPrefix("e", qb.Insert("ks.outbox").Columns("agg", "ev", "payload")).ToCql()
	id2 := gocql.MustRandomUUID()
	if err := s.Query(stmt, names).BindMap(qb.M{"id": id2, "status": "CREATED", "version": 1,
		"e.agg": id2, "e.ev": gocql.TimeUUID(), "e.payload": []byte("x")}).ExecRelease(); err != nil {
		t.Fatalf("gocqlx batch: %v", err)
	}
	var st string
	if err := s.Session.Query(`SELECT status FROM ks.orders WHERE id = ?`, id2).Scan(&st); err != nil || st != "CREATED" {
		t.Errorf("status = %q, %v", st, err)
	}
	// A failing statement leaves the whole batch unapplied.
	b = s.Session.Batch(gocql.LoggedBatch)
	id3 := gocql.MustRandomUUID()
	b.Query(`INSERT INTO ks.orders (id, status) VALUES (?, ?)`, id3, "CREATED")
	b.Query(`INSERT INTO ks.outbox (agg, ev, payload) VALUES (?, ?, ?)`, id3, nil, []byte("x"))
	if err := s.Session.ExecuteBatch(b); err == nil {
		t.Fatal("batch with null clustering key succeeded")
	}
	if err := s.Session.Query(`SELECT status FROM ks.orders WHERE id = ?`, id3).Scan(&st); err != gocql.ErrNotFound {
		t.Errorf("partial batch applied: %v", err)
	}
}

func TestGocqlLightweightTransactions(t *testing.T) {
	s := setupKeyspace(t)
	exec(t, s, `CREATE TABLE ks.lwt (k text PRIMARY KEY, v int, w text)`)
	// Like ScyllaDB, the result always carries the row's columns (null here).
	var k string
	var v int
	var w string
	applied, err := s.Session.Query(`INSERT INTO ks.lwt (k, v) VALUES (?, ?) IF NOT EXISTS`, "a", 1).ScanCAS(&k, &v, &w)
	if err != nil || !applied || k != "" {
		t.Fatalf("first insert: applied=%v k=%q err=%v", applied, k, err)
	}
	applied, err = s.Session.Query(`INSERT INTO ks.lwt (k, v) VALUES (?, ?) IF NOT EXISTS`, "a", 2).ScanCAS(&k, &v, &w)
	if err != nil || applied || k != "a" || v != 1 {
		t.Fatalf("second insert: applied=%v k=%q v=%d err=%v", applied, k, v, err)
	}
	applied, err = s.Session.Query(`UPDATE ks.lwt SET v = ? WHERE k = ? IF v = ?`, 3, "a", 1).ScanCAS(&v)
	if err != nil || !applied {
		t.Fatalf("conditional update: applied=%v err=%v", applied, err)
	}
	applied, err = s.Session.Query(`UPDATE ks.lwt SET v = ? WHERE k = ? IF v = ?`, 4, "a", 1).ScanCAS(&v)
	if err != nil || applied || v != 3 {
		t.Fatalf("stale conditional update: applied=%v v=%d err=%v", applied, v, err)
	}
	applied, err = s.Session.Query(`DELETE FROM ks.lwt WHERE k = ? IF EXISTS`, "zzz").ScanCAS(&k, &v, &w)
	if err != nil || applied {
		t.Fatalf("delete missing if exists: applied=%v err=%v", applied, err)
	}
	q := s.Query(`UPDATE ks.lwt SET w = ? WHERE k = ? IF EXISTS`, []string{"w", "k"}).Bind("x", "a")
	if applied, err = q.ExecCAS(); err != nil || !applied {
		t.Fatalf("gocqlx ExecCAS: applied=%v err=%v", applied, err)
	}
}

func TestGocqlTTLExpiry(t *testing.T) {
	s := setupKeyspace(t)
	exec(t, s, `CREATE TABLE ks.ttl (k int PRIMARY KEY, v text) WITH default_time_to_live = 1`)
	exec(t, s, `INSERT INTO ks.ttl (k, v) VALUES (1, 'default')`)
	exec(t, s, `INSERT INTO ks.ttl (k, v) VALUES (2, 'long') USING TTL 3600`)
	exec(t, s, `INSERT INTO ks.ttl (k, v) VALUES (3, 'forever') USING TTL 0`)
	var ttl int
	if err := s.Session.Query(`SELECT ttl(v) FROM ks.ttl WHERE k = 2`).Scan(&ttl); err != nil || ttl < 3590 || ttl > 3600 {
		t.Errorf("ttl(v) = %d, %v", ttl, err)
	}
	poll.Eventually(t, 5*time.Second, poll.True("row 1 to expire", func() bool {
		return s.Session.Query(`SELECT v FROM ks.ttl WHERE k = 1`).Scan(new(string)) == gocql.ErrNotFound
	}))
	var n int
	if err := s.Session.Query(`SELECT COUNT(*) FROM ks.ttl`).Scan(&n); err != nil || n != 2 {
		t.Errorf("count after expiry = %d, %v", n, err)
	}
	exec(t, s, `UPDATE ks.ttl USING TTL ? SET v = ? WHERE k = ?`, 1, "short", 3)
	// The row marker has no TTL, so the row stays while its cell expires.
	poll.Eventually(t, 5*time.Second, poll.True("updated cell to expire", func() bool {
		var v *string
		err := s.Session.Query(`SELECT v FROM ks.ttl WHERE k = 3`).Scan(&v)
		return err == nil && v == nil
	}))
}

func TestGocqlWriteTimestamps(t *testing.T) {
	s := setupKeyspace(t)
	exec(t, s, `CREATE TABLE ks.ts (k int PRIMARY KEY, v text)`)
	exec(t, s, `INSERT INTO ks.ts (k, v) VALUES (1, 'new') USING TIMESTAMP 2000`)
	exec(t, s, `INSERT INTO ks.ts (k, v) VALUES (1, 'old') USING TIMESTAMP 1000`)
	var v string
	var wt int64
	if err := s.Session.Query(`SELECT v, writetime(v) FROM ks.ts WHERE k = 1`).Scan(&v, &wt); err != nil || v != "new" || wt != 2000 {
		t.Errorf("v=%q wt=%d err=%v, want newest write to win", v, wt, err)
	}
	// The client's default timestamp is the write time when no USING TIMESTAMP is given.
	q := s.Session.Query(`INSERT INTO ks.ts (k, v) VALUES (2, 'x')`).WithTimestamp(12345)
	if err := q.Exec(); err != nil {
		t.Fatal(err)
	}
	if err := s.Session.Query(`SELECT writetime(v) FROM ks.ts WHERE k = 2`).Scan(&wt); err != nil || wt != 12345 {
		t.Errorf("writetime = %d, %v, want the client timestamp", wt, err)
	}
	exec(t, s, `DELETE FROM ks.ts USING TIMESTAMP 1500 WHERE k = 1`)
	if err := s.Session.Query(`SELECT v FROM ks.ts WHERE k = 1`).Scan(&v); err != nil || v != "new" {
		t.Errorf("older delete removed a newer write: %q %v", v, err)
	}
}
