package shardrelay_test

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gocql/gocql"

	"github.com/outboxnode/outbox/actors/cdcstream"
	"github.com/outboxnode/outbox/infra/cdc"
	"github.com/outboxnode/outbox/infra/lease"
	"github.com/outboxnode/outbox/infra/miniscylla"
	"github.com/outboxnode/outbox/infra/miniscylla/miniscyllatest"
	"github.com/outboxnode/outbox/infra/scylla"
	"github.com/outboxnode/outbox/infra/scylla/scyllatest"
	"github.com/outboxnode/outbox/infra/shardrelay"
	"github.com/outboxnode/outbox/internal/poll"
)

const shards = 4

// relayNode is one node's relay side: its leases and shard readers over a
// shared store; it acknowledges every delivery at once, as a healthy
// publisher would, and records who delivered which event.
type relayNode struct {
	name   string
	src    *shardrelay.Source
	place  atomic.Pointer[[]int]
	paused atomic.Bool // renewals hang, as in a process that is stopped
	cancel context.CancelFunc
	done   chan error

	mu  sync.Mutex
	got []string // event ids
}

// pausable makes lease operations fail while the node is paused, so its
// leases run out as a stopped process's would.
type pausable struct {
	shardrelay.Fenced
	node *relayNode
}

func (p pausable) Acquire(ctx context.Context, shard int) (shardrelay.Lease, error) {
	if p.node.paused.Load() {
		return nil, fmt.Errorf("%s is paused", p.node.name)
	}
	return p.Fenced.Acquire(ctx, shard)
}

func (p pausable) Renew(ctx context.Context, l shardrelay.Lease, lag time.Duration) error {
	if p.node.paused.Load() {
		return fmt.Errorf("%s is paused", p.node.name)
	}
	return p.Fenced.Renew(ctx, l, lag)
}

func startNode(t *testing.T, session *gocql.Session, keyspace, name string, ttl time.Duration, placed ...int) *relayNode {
	t.Helper()
	n := &relayNode{name: name, done: make(chan error, 1)}
	n.place.Store(&placed)
	leases, err := lease.New(lease.Config{Keyspace: keyspace, Owner: name, Shards: shards, TTL: ttl}, session, nil)
	if err != nil {
		t.Fatal(err)
	}
	newReader := func(shard int, l shardrelay.Lease, guard func() error) (shardrelay.Reader, error) {
		cfg := cdc.Config{Keyspace: keyspace, Table: scylla.ShardTableName(shard), ChangeAgeLimit: time.Hour,
			Consistency: gocql.One, ConfidenceWindow: 10 * time.Millisecond}
		return cdc.New(cfg, session, slog.New(slog.DiscardHandler), cdc.WithProgress(leases.Progress(l.(*shardrelay.Held).Lease())), cdc.WithGuard(guard))
	}
	n.src, err = shardrelay.New(shardrelay.Config{RenewInterval: ttl / 4, RetryDelay: 50 * time.Millisecond},
		pausable{shardrelay.Fenced{Leases: leases}, n}, func() []int { return *n.place.Load() }, newReader, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	n.cancel = cancel
	go func() {
		n.done <- n.src.Run(ctx, func(d cdcstream.Delivery) {
			n.mu.Lock()
			n.got = append(n.got, d.Request.GetEvent().GetEventId())
			n.mu.Unlock()
			d.Ack()
		})
	}()
	t.Cleanup(func() { n.stop(t) })
	return n
}

func (n *relayNode) stop(t *testing.T) {
	if n.cancel == nil {
		return
	}
	n.cancel()
	n.cancel = nil
	if err := <-n.done; err != nil {
		t.Errorf("%s: run: %v", n.name, err)
	}
	if err := n.src.Flush(context.Background()); err != nil {
		t.Logf("%s: final flush: %v", n.name, err)
	}
}

func (n *relayNode) events() []string {
	n.mu.Lock()
	defer n.mu.Unlock()
	return slices.Clone(n.got)
}

// writeEvents writes one event into each of the given shards' tables and
// returns their ids.
func writeEvents(t *testing.T, session *gocql.Session, keyspace string, in ...int) []string {
	t.Helper()
	var ids []string
	for _, shard := range in {
		id := gocql.TimeUUID()
		err := session.Query(fmt.Sprintf(`INSERT INTO %s.%s (aggregate_id, event_id, aggregate_type, aggregate_version, event_type, payload, created_at)
			VALUES (?, ?, 'order', 1, 'OrderCreated', 0x7b7d, ?)`, keyspace, scylla.ShardTableName(shard)), gocql.MustRandomUUID(), id, time.Now()).Exec()
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id.String())
	}
	return ids
}

// delivered waits until every id was delivered by one of nodes.
func delivered(nodes []*relayNode, ids []string) func() error {
	return func() error {
		seen := map[string]bool{}
		for _, n := range nodes {
			for _, id := range n.events() {
				seen[id] = true
			}
		}
		for _, id := range ids {
			if !seen[id] {
				return fmt.Errorf("event %s not delivered", id)
			}
		}
		return nil
	}
}

// Two nodes share four shards: a placement change hands shards over after
// the saved progress, and a paused node whose leases ran out delivers
// nothing more of them while the other takes them over under a new epoch.
func TestShardsMoveBetweenNodesWithoutLoss(t *testing.T) {
	srv := miniscyllatest.Start(t, miniscylla.Config{})
	cfg := scyllatest.Config()
	cfg.OutboxShards = shards
	sess, err := scylla.Connect(t.Context(), cfg, []string{srv.Addr()}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sess.Close)
	scyllatest.Migrate(t, sess, cfg)
	session, ks := sess.Session, cfg.Keyspace
	const ttl = 800 * time.Millisecond

	a := startNode(t, session, ks, "node-a", ttl, 0, 1, 2, 3)
	poll.Eventually(t, 30*time.Second, owned(a.src, 0, 1, 2, 3))
	first := writeEvents(t, session, ks, 0, 1, 2, 3, 0, 1, 2, 3)
	poll.Eventually(t, 30*time.Second, delivered([]*relayNode{a}, first))

	// Shards 2 and 3 move to b: a hands them over, b takes them at once.
	a.place.Store(&[]int{0, 1})
	b := startNode(t, session, ks, "node-b", ttl, 2, 3)
	poll.Eventually(t, 30*time.Second, owned(b.src, 2, 3))
	poll.Eventually(t, 30*time.Second, owned(a.src, 0, 1))
	second := writeEvents(t, session, ks, 0, 1, 2, 3)
	poll.Eventually(t, 30*time.Second, delivered([]*relayNode{a, b}, second))
	for _, id := range second[2:] {
		if slices.Contains(a.events(), id) {
			t.Errorf("a delivered %s of a shard it handed over", id)
		}
	}

	// a stops renewing: once its leases are past their deadline it reads
	// nothing more, and b, placed on every shard, takes 0 and 1 over.
	a.paused.Store(true)
	b.place.Store(&[]int{0, 1, 2, 3})
	poll.Eventually(t, 30*time.Second, owned(b.src, 0, 1, 2, 3))
	before := len(a.events())
	third := writeEvents(t, session, ks, 0, 1, 0, 1)
	poll.Eventually(t, 30*time.Second, delivered([]*relayNode{b}, third))
	if got := a.events()[before:]; len(got) != 0 {
		t.Errorf("the paused node delivered %v after losing its leases", got)
	}
	// Resumed, a finds its leases lost at the next renewal and drops them.
	a.paused.Store(false)
	poll.Eventually(t, 30*time.Second, owned(a.src))

	leases, err := lease.New(lease.Config{Keyspace: ks, Owner: "observer", Shards: shards}, session, nil)
	if err != nil {
		t.Fatal(err)
	}
	list, err := leases.List(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range list {
		if l.Owner != "node-b" || l.Epoch < 2 {
			t.Errorf("shard %d: owner %s epoch %d, want node-b with a later epoch", l.Shard, l.Owner, l.Epoch)
		}
	}
}
