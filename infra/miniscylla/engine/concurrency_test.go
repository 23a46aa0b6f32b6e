package engine

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/datastax/go-cassandra-native-protocol/message"
	"github.com/datastax/go-cassandra-native-protocol/primitive"
)

// TestConcurrentDMLAndDDL runs writes, reads, prepared executions and schema
// changes at once; under -race it checks the locking, and every answer must
// be a result or an ordinary error (never an internal one).
func TestConcurrentDMLAndDDL(t *testing.T) {
	e, sess := newTestEngine(t, `CREATE TABLE t (k int, c int, v text, PRIMARY KEY (k, c))`)
	prep := e.Handle(context.Background(), sess, &message.Prepare{Query: `INSERT INTO t (k, c, v) VALUES (?, ?, ?)`}).(*message.PreparedResult)
	var wg sync.WaitGroup
	errs := make(chan string, 100)
	check := func(what string, res message.Message) {
		if se, ok := res.(*message.ServerError); ok {
			select {
			case errs <- what + ": " + se.ErrorMessage:
			default:
			}
		}
	}
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s := &Session{Keyspace: "ks"}
			for i := 0; i < 300; i++ {
				k := encInt(int32(i % 17))
				res := e.Handle(context.Background(), s, &message.Execute{QueryId: prep.PreparedQueryId, Options: optsOf(k, encInt(int32(g)), []byte("v"))})
				if _, unprepared := res.(*message.Unprepared); !unprepared {
					check("execute", res)
				}
				check("batch", query(e, s, `BEGIN BATCH INSERT INTO t (k, c) VALUES (1, 1); UPDATE t SET v = 'x' WHERE k = 2 AND c = 2 APPLY BATCH`))
				check("select", query(e, s, `SELECT * FROM t WHERE k = ?`, k))
				check("scan", query(e, s, `SELECT COUNT(*) FROM t`))
				check("lwt", query(e, s, `UPDATE t SET v = 'y' WHERE k = 1 AND c = 1 IF v = 'x'`))
			}
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		s := &Session{Keyspace: "ks"}
		for i := 0; i < 60; i++ {
			check("create", query(e, s, fmt.Sprintf(`CREATE TABLE x%d (k int PRIMARY KEY)`, i)))
			check("alter add", query(e, s, `ALTER TABLE t ADD extra int`))
			check("schema", query(e, s, `SELECT * FROM system_schema.columns WHERE keyspace_name = 'ks'`))
			check("alter drop", query(e, s, `ALTER TABLE t DROP extra`))
			check("drop", query(e, s, fmt.Sprintf(`DROP TABLE x%d`, i)))
		}
	}()
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func optsOf(vals ...[]byte) *message.QueryOptions {
	opts := &message.QueryOptions{}
	for _, v := range vals {
		opts.PositionalValues = append(opts.PositionalValues, primitive.NewValue(v))
	}
	return opts
}
