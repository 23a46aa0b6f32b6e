package engine

import (
	"context"
	"strings"
	"testing"

	"github.com/datastax/go-cassandra-native-protocol/message"
	"github.com/datastax/go-cassandra-native-protocol/primitive"
)

// FuzzHandle checks that no query text or bound value makes the engine
// panic: every answer is a result or a protocol error other than an
// internal one.
func FuzzHandle(f *testing.F) {
	for _, seed := range []string{
		`SELECT * FROM t WHERE k = ? AND c > ? LIMIT ?`,
		`INSERT INTO t (k, c, l, m, s, u) VALUES (?, ?, ?, ?, ?, ?) USING TTL ?`,
		`UPDATE t SET l = l + ?, m[?] = ?, s = s - ? WHERE k = ? AND c = ? IF u = ?`,
		`DELETE l[?], m[?] FROM t WHERE k IN ? AND c = ?`,
		`SELECT writetime(u), ttl(u), toTimestamp(c), COUNT(*) FROM t WHERE token(k) > ? ALLOW FILTERING`,
		`BEGIN BATCH INSERT INTO t (k, c) VALUES (?, now()); DELETE FROM t WHERE k = ? APPLY BATCH`,
		`SELECT * FROM t WHERE k = 1 AND (c) >= (?) ORDER BY c DESC PER PARTITION LIMIT ?`,
		`SELECT DISTINCT k FROM t WHERE k IN (1, 2, 3)`,
		`SELECT max(u), count(l), min(c), k FROM t WHERE k = ?`,
		`INSERT INTO t (k, c, p) VALUES (1, now(), {x: 1, y: ?})`,
	} {
		f.Add(seed, []byte{0, 0, 0, 1}, []byte{0x10, 0, 0, 0, 0, 0, 0x10, 0, 0x80, 0, 0, 0, 0, 0, 0, 0})
	}
	e, err := New(Config{})
	if err != nil {
		f.Fatal(err)
	}
	sess := &Session{}
	for _, q := range []string{
		`CREATE KEYSPACE ks WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}`, `USE ks`,
		`CREATE TYPE pt (x int, y int)`,
		`CREATE TABLE t (k int, c timeuuid, l list<int>, m map<text, int>, s set<int>, u text, p pt, PRIMARY KEY (k, c))`,
	} {
		if res := e.Handle(context.Background(), sess, &message.Query{Query: q}); isError(res) {
			f.Fatalf("%s: %v", q, res)
		}
	}
	f.Fuzz(func(t *testing.T, q string, a, b []byte) {
		opts := &message.QueryOptions{PageSize: 2}
		n := strings.Count(q, "?")
		for i := 0; i < n; i++ {
			v := a
			if i%2 == 1 {
				v = b
			}
			opts.PositionalValues = append(opts.PositionalValues, primitive.NewValue(v))
		}
		for _, req := range []message.Message{&message.Query{Query: q, Options: opts}, &message.Prepare{Query: q}} {
			res := e.Handle(context.Background(), sess, req)
			if se, ok := res.(*message.ServerError); ok {
				t.Fatalf("%q: server error %s", q, se.ErrorMessage)
			}
		}
	})
}
