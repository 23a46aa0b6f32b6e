package engine

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/datastax/go-cassandra-native-protocol/message"
)

// fakeClock is a settable Config.Now.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func TestCompactionDropsExpiredData(t *testing.T) {
	clock := &fakeClock{now: time.Unix(1_700_000_000, 0)}
	e, err := New(Config{Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	sess := &Session{}
	for _, q := range []string{
		`CREATE KEYSPACE ks WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}`, `USE ks`,
		`CREATE TABLE t (k int, c int, v text, PRIMARY KEY (k, c))`,
		`INSERT INTO t (k, c, v) VALUES (1, 1, 'short') USING TTL 5`,
		`INSERT INTO t (k, c, v) VALUES (2, 1, 'kept')`,
		`UPDATE t USING TTL 5 SET v = 'cell' WHERE k = 2 AND c = 2`,
		`INSERT INTO t (k, c, v) VALUES (3, 1, 'deleted')`,
		`DELETE FROM t WHERE k = 3`,
	} {
		if res := query(e, sess, q); isError(res) {
			t.Fatalf("%s: %v", q, res)
		}
	}
	td := e.data["ks.t"]
	if len(td.parts) != 3 {
		t.Fatalf("partitions before compaction: %d", len(td.parts))
	}
	clock.advance(time.Minute)
	e.mu.Lock()
	e.compactLocked(clock.Now().UnixNano())
	e.mu.Unlock()
	if len(td.parts) != 3 {
		t.Errorf("compaction dropped data inside the tombstone grace period: %d partitions", len(td.parts))
	}
	clock.advance(tombstoneGrace)
	e.mu.Lock()
	e.compactLocked(clock.Now().UnixNano())
	e.mu.Unlock()
	if len(td.parts) != 1 || len(td.parts[string(encInt(2))].rows) != 1 {
		t.Errorf("after compaction: %d partitions", len(td.parts))
	}
	res := e.Handle(context.Background(), sess, &message.Query{Query: `SELECT k, c, v FROM t`})
	if rows := res.(*message.RowsResult); len(rows.Data) != 1 || string(rows.Data[0][2]) != "kept" {
		t.Errorf("rows after compaction: %v", rows.Data)
	}
}
