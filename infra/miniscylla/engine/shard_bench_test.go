package engine

import (
	"context"
	"testing"
	"time"

	"github.com/datastax/go-cassandra-native-protocol/message"
	"github.com/datastax/go-cassandra-native-protocol/primitive"
	"github.com/gocql/gocql"
	"github.com/google/uuid"
)

// The engine's side of cluster mode's command path, without the wire: an
// outbox shard table shaped like schema/006_outbox_shards.cql and the
// statements infra/scylla.ShardStore prepares for it.
const (
	shardTable = `CREATE TABLE ks.outbox_shard_0 (aggregate_id uuid, event_id timeuuid,
		order_customer_id text static, order_status text static, order_items frozen<map<text, int>> static,
		order_total_cents bigint static, order_currency text static, order_version int static,
		order_created_at timestamp static, order_updated_at timestamp static,
		aggregate_type text, aggregate_version int, event_type text, payload blob,
		headers frozen<map<text, text>>, created_at timestamp,
		PRIMARY KEY ((aggregate_id), event_id)) WITH cdc = {'enabled': true, 'ttl': 86400}`
	shardCommit = `UPDATE ks.outbox_shard_0 SET order_customer_id=?,order_status=?,order_items=?,order_total_cents=?,` +
		`order_currency=?,order_version=?,order_created_at=?,order_updated_at=? WHERE aggregate_id=? IF order_version=?`
	shardEvent = `INSERT INTO ks.outbox_shard_0 (aggregate_id,event_id,aggregate_type,aggregate_version,event_type,` +
		`payload,headers,created_at) VALUES (?,?,?,?,?,?,?,?) USING TTL 86400`
	// shardPoll is the range query scylla-cdc-go polls a log with.
	shardPoll = `SELECT * FROM ks.outbox_shard_0_scylla_cdc_log WHERE "cdc$stream_id" IN (?, ?) ` +
		`AND "cdc$time" > ? AND "cdc$time" <= ? BYPASS CACHE`
	shardOrders = 64
)

// shardBench is an engine holding the shard table, with its statements
// prepared.
type shardBench struct {
	e                         *Engine
	sess                      *Session
	commitID, eventID, pollID []byte // prepared ids
	orders                    [shardOrders]uuid.UUID
	versions                  [shardOrders]int32
	payload, items, hdrs      []byte
}

func newShardBench(b *testing.B) *shardBench {
	e, err := New(Config{})
	if err != nil {
		b.Fatal(err)
	}
	s := &shardBench{e: e, sess: &Session{}, payload: make([]byte, 200),
		items: encTextMap(map[string]string{"sku-1": "\x00\x00\x00\x02"}), hdrs: encTextMap(map[string]string{"trace": "t"})}
	for _, q := range []string{`CREATE KEYSPACE ks WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}`, shardTable} {
		if res := e.Handle(context.Background(), s.sess, &message.Query{Query: q}); isError(res) {
			b.Fatalf("%s: %v", q, res)
		}
	}
	for _, p := range []struct {
		id *[]byte
		q  string
	}{{&s.commitID, shardCommit}, {&s.eventID, shardEvent}, {&s.pollID, shardPoll}} {
		res, ok := e.Handle(context.Background(), s.sess, &message.Prepare{Query: p.q}).(*message.PreparedResult)
		if !ok {
			b.Fatalf("prepare %s failed", p.q)
		}
		*p.id = res.PreparedQueryId
	}
	for i := range s.orders {
		s.orders[i] = uuid.New()
	}
	return s
}

// commit commits the next version of order i, as ShardStore.Commit does.
func (s *shardBench) commit(b *testing.B, i int) {
	id := encUUID(s.orders[i])
	var expected []byte // null for a new order
	if s.versions[i] > 0 {
		expected = encInt(s.versions[i])
	}
	now := encBigint(time.Now().UnixMilli())
	v := s.versions[i] + 1
	ev, _ := uuid.NewUUID()
	batch := &message.Batch{Type: primitive.BatchTypeLogged, Consistency: primitive.ConsistencyLevelQuorum, Children: []*message.BatchChild{
		{Id: s.commitID, Values: values(encText("customer"), encText("PAID"), s.items, encBigint(1999), encText("EUR"),
			encInt(v), now, now, id, expected)},
		{Id: s.eventID, Values: values(id, encUUID(ev), encText("order"), encInt(v), encText("OrderPaid"), s.payload, s.hdrs, now)},
	}}
	res, ok := s.e.Handle(context.Background(), s.sess, batch).(*message.RowsResult)
	if !ok || len(res.Data) != 2 || res.Data[0][0][0] != 1 {
		b.Fatalf("commit of version %d not applied: %v", v, res)
	}
	s.versions[i] = v
}

func values(vs ...[]byte) []*primitive.Value {
	out := make([]*primitive.Value, len(vs))
	for i, v := range vs {
		out[i] = primitive.NewValue(v)
	}
	return out
}

// BenchmarkShardCommit measures one command: a conditional batch updating
// an order's static columns IF order_version = ? and inserting its event
// with a TTL, into a CDC-enabled table.
func BenchmarkShardCommit(b *testing.B) {
	s := newShardBench(b)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		s.commit(b, i%shardOrders)
	}
}

// BenchmarkShardPoll measures a CDC reader's poll of the shard table's log:
// a range SELECT of two of the eight streams over the last 8 commits, all of
// one order, while the log holds a few thousand rows.
func BenchmarkShardPoll(b *testing.B) {
	s := newShardBench(b)
	for i := range 2000 {
		s.commit(b, i%shardOrders)
	}
	lo := gocql.UUIDFromTime(time.Now())
	for range 8 {
		s.commit(b, 0)
	}
	hi := gocql.UUIDFromTime(time.Now())
	gen := s.e.cdc.log.Generation()
	stream := gen.StreamFor(Token(encUUID(s.orders[0])))
	other := gen.Streams()[0]
	if other == stream {
		other = gen.Streams()[1]
	}
	req := &message.Execute{QueryId: s.pollID, Options: &message.QueryOptions{Consistency: primitive.ConsistencyLevelOne,
		PositionalValues: values(stream[:], other[:], lo[:], hi[:]), PageSize: 1000}}
	b.ReportAllocs()
	for b.Loop() {
		if res, ok := s.e.Handle(context.Background(), s.sess, req).(*message.RowsResult); !ok || len(res.Data) < 16 {
			b.Fatalf("poll found %v, want the last 8 commits' rows", res)
		}
	}
}
