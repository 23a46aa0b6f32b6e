package lease_test

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gocql/gocql"
	scyllacdc "github.com/scylladb/scylla-cdc-go"

	"github.com/outboxnode/outbox/infra/lease"
	"github.com/outboxnode/outbox/infra/miniscylla"
	"github.com/outboxnode/outbox/infra/miniscylla/miniscyllatest"
	"github.com/outboxnode/outbox/infra/scylla"
	"github.com/outboxnode/outbox/infra/scylla/scyllatest"
	"github.com/outboxnode/outbox/internal/poll"
)

const shards = 4

// start migrates a cluster-mode schema of shards shard tables into a fresh
// miniscylla and returns the session and keyspace.
func start(t *testing.T) (*gocql.Session, string) {
	t.Helper()
	srv := miniscyllatest.Start(t, miniscylla.Config{})
	cfg := scyllatest.Config()
	cfg.OutboxShards = shards
	session, err := scylla.Connect(t.Context(), cfg, []string{srv.Addr()}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatalf("connect to miniscylla: %v", err)
	}
	t.Cleanup(session.Close)
	scyllatest.Migrate(t, session, cfg)
	return session.Session, cfg.Keyspace
}

func node(t *testing.T, session *gocql.Session, keyspace, owner string, ttl time.Duration) *lease.Leases {
	t.Helper()
	l, err := lease.New(lease.Config{Keyspace: keyspace, Owner: owner, Shards: shards, TTL: ttl}, session, nil)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func acquire(t *testing.T, l *lease.Leases, shard int) lease.Lease {
	t.Helper()
	got, err := l.Acquire(t.Context(), shard)
	if err != nil {
		t.Fatalf("acquire shard %d: %v", shard, err)
	}
	return got
}

// waitExpired waits until lease has expired both by its holder's local
// deadline and in the store by this host's wall clock, the one Acquire
// compares it with.
func waitExpired(t *testing.T, l lease.Lease) {
	t.Helper()
	poll.Eventually(t, 5*time.Second, poll.True("lease expiry", func() bool {
		now := time.Now()
		return !l.Valid(now) && now.After(l.ExpiresAt)
	}))
}

func TestFailoverFencesTheFormerOwner(t *testing.T) {
	session, ks := start(t)
	ctx := t.Context()
	a := node(t, session, ks, "node-a", 200*time.Millisecond)
	b := node(t, session, ks, "node-b", 200*time.Millisecond)
	const shard = 2
	table := ks + ".outbox_shard_2"
	gen := time.UnixMilli(1_700_000_000_000).UTC()
	stream := scyllacdc.StreamID{1, 2, 3}

	la := acquire(t, a, shard)
	if la.Epoch != 1 || la.Owner != "node-a" || !la.Valid(time.Now()) {
		t.Fatalf("first lease = %+v, want epoch 1 of node-a, valid", la)
	}
	pa := a.Progress(la)
	if err := pa.StartGeneration(ctx, gen); err != nil {
		t.Fatal(err)
	}
	saved := scyllacdc.Progress{LastProcessedRecordTime: gocql.TimeUUID()}
	if err := pa.SaveProgress(ctx, gen, table, stream, saved); err != nil {
		t.Fatal(err)
	}

	_, err := b.Acquire(ctx, shard)
	var held *lease.HeldError
	if !errors.As(err, &held) || !errors.Is(err, lease.ErrNotAcquired) || held.Owner != "node-a" || !strings.Contains(err.Error(), "node-a") {
		t.Fatalf("acquire of a held lease: %v, want a HeldError naming node-a", err)
	}

	waitExpired(t, la)
	lb := acquire(t, b, shard)
	if lb.Epoch != 2 || lb.Owner != "node-b" {
		t.Fatalf("lease after expiry = %+v, want epoch 2 of node-b", lb)
	}

	_, err = a.Renew(ctx, la, 0)
	var lost *lease.LostError
	if !errors.As(err, &lost) || !errors.Is(err, lease.ErrLost) || lost.FoundOwner != "node-b" || lost.FoundEpoch != 2 {
		t.Fatalf("renew of a lost lease: %v, want a LostError naming node-b, epoch 2", err)
	}
	stale := scyllacdc.Progress{LastProcessedRecordTime: gocql.TimeUUID()}
	for name, err := range map[string]error{
		"save progress":    pa.SaveProgress(ctx, gen, table, stream, stale),
		"start generation": pa.StartGeneration(ctx, gen.Add(time.Hour)),
	} {
		var fenced *lease.FencedError
		if !errors.As(err, &fenced) || !errors.Is(err, lease.ErrFenced) || fenced.Epoch != 1 || fenced.FoundEpoch != 2 {
			t.Errorf("%s of the former owner: %v, want a FencedError of epoch 1 finding 2", name, err)
		}
	}

	pb := b.Progress(lb)
	assertProgress(t, pb, gen, table, stream, saved)
	newer := scyllacdc.Progress{LastProcessedRecordTime: gocql.TimeUUID()}
	if err := pb.SaveProgress(ctx, gen, table, stream, newer); err != nil {
		t.Fatalf("save progress of the new owner: %v", err)
	}
	assertProgress(t, pb, gen, table, stream, newer)
	if _, err := b.Renew(ctx, lb, 1500*time.Millisecond); err != nil {
		t.Fatalf("renew of the new owner: %v", err)
	}
	list, err := a.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got := list[lb.Shard]; got.Owner != lb.Owner || got.Epoch != 2 || got.Lag != 1500*time.Millisecond {
		t.Fatalf("listed %+v, want owner %s epoch 2 with the lag of the renewal", got, lb.Owner)
	}
}

func assertProgress(t *testing.T, p *lease.ProgressManager, gen time.Time, table string, stream scyllacdc.StreamID, want scyllacdc.Progress) {
	t.Helper()
	ctx := t.Context()
	got, err := p.GetProgress(ctx, gen, table, stream)
	if err != nil {
		t.Fatal(err)
	}
	if got != want {
		t.Errorf("progress = %v, want %v", got.LastProcessedRecordTime, want.LastProcessedRecordTime)
	}
	cur, err := p.GetCurrentGeneration(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !cur.Equal(gen) {
		t.Errorf("current generation = %s, want %s", cur, gen)
	}
}

func TestReleaseHandsOverAtOnce(t *testing.T) {
	session, ks := start(t)
	ctx := t.Context()
	a := node(t, session, ks, "node-a", time.Hour)
	b := node(t, session, ks, "node-b", time.Hour)
	la := acquire(t, a, 0)
	if err := a.Release(ctx, la); err != nil {
		t.Fatal(err)
	}
	lb := acquire(t, b, 0)
	if lb.Epoch != 2 {
		t.Fatalf("epoch after handover = %d, want 2", lb.Epoch)
	}
	if err := a.Release(ctx, la); !errors.Is(err, lease.ErrLost) {
		t.Fatalf("second release: %v, want ErrLost", err)
	}
	if err := a.Progress(la).StartGeneration(ctx, time.Now()); !errors.Is(err, lease.ErrFenced) {
		t.Fatalf("start generation after release: %v, want ErrFenced", err)
	}

	list, err := b.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := []lease.ShardLease{{Shard: 0, Owner: "node-b", Epoch: 2, ExpiresAt: lb.ExpiresAt.Truncate(time.Millisecond)}, {Shard: 1}, {Shard: 2}, {Shard: 3}}
	if len(list) != len(want) {
		t.Fatalf("list = %+v, want %+v", list, want)
	}
	for i := range want {
		if list[i].Shard != want[i].Shard || list[i].Owner != want[i].Owner || list[i].Epoch != want[i].Epoch || !list[i].ExpiresAt.Equal(want[i].ExpiresAt) {
			t.Errorf("list[%d] = %+v, want %+v", i, list[i], want[i])
		}
	}
}

// TestRenewExtendsTheLocalDeadline: a holder past its deadline must not
// relay (Valid is false) until a renew, which succeeds while nobody took
// the shard, makes it valid again.
func TestRenewExtendsTheLocalDeadline(t *testing.T) {
	session, ks := start(t)
	a := node(t, session, ks, "node-a", 200*time.Millisecond)
	la := acquire(t, a, 0)
	poll.Eventually(t, 5*time.Second, poll.True("local deadline", func() bool { return !la.Valid(time.Now()) }))
	renewed, err := a.Renew(t.Context(), la, 0)
	if err != nil {
		t.Fatal(err)
	}
	if !renewed.Valid(time.Now()) || renewed.Epoch != la.Epoch || !renewed.ExpiresAt.After(la.ExpiresAt) {
		t.Fatalf("renewed lease %+v of %+v: want valid, same epoch, later expiry", renewed, la)
	}
}

func TestRestartedOwnerTakesANewEpoch(t *testing.T) {
	session, ks := start(t)
	a := node(t, session, ks, "node-a", time.Hour)
	first := acquire(t, a, 1)
	second := acquire(t, a, 1)
	if second.Epoch != first.Epoch+1 {
		t.Fatalf("epochs %d then %d, want consecutive", first.Epoch, second.Epoch)
	}
	if _, err := a.Renew(t.Context(), first, 0); !errors.Is(err, lease.ErrLost) {
		t.Fatalf("renew of the previous run's lease: %v, want ErrLost", err)
	}
}

func TestRacingAcquiresHaveOneWinner(t *testing.T) {
	session, ks := start(t)
	const racers = 8
	var (
		wg     sync.WaitGroup
		mu     sync.Mutex
		wins   []lease.Lease
		others []error
	)
	for i := range racers {
		l := node(t, session, ks, "node-"+string(rune('a'+i)), time.Hour)
		wg.Go(func() {
			got, err := l.Acquire(context.Background(), 3)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				others = append(others, err)
				return
			}
			wins = append(wins, got)
		})
	}
	wg.Wait()
	if len(wins) != 1 || wins[0].Epoch != 1 {
		t.Fatalf("winners = %+v, want one of epoch 1", wins)
	}
	for _, err := range others {
		var held *lease.HeldError
		if !errors.As(err, &held) || held.Owner != wins[0].Owner {
			t.Errorf("loser's error %v, want a HeldError naming %s", err, wins[0].Owner)
		}
	}
}

func TestCheckLayout(t *testing.T) {
	session, ks := start(t)
	ctx := t.Context()
	for range 2 {
		if err := lease.CheckLayout(ctx, session, ks, shards); err != nil {
			t.Fatalf("check layout of %d shards: %v", shards, err)
		}
	}
	err := lease.CheckLayout(ctx, session, ks, 8)
	var layout *lease.LayoutError
	if !errors.As(err, &layout) || layout.Stored != shards || layout.Configured != 8 {
		t.Fatalf("check layout of 8 shards: %v, want a LayoutError of 4 stored", err)
	}
}

func TestProgressRefusesOtherTables(t *testing.T) {
	session, ks := start(t)
	a := node(t, session, ks, "node-a", time.Hour)
	p := a.Progress(acquire(t, a, 0))
	if _, err := p.GetProgress(t.Context(), time.Now(), ks+".outbox_shard_1", scyllacdc.StreamID{1}); err == nil {
		t.Error("progress of shard 1's table read through shard 0's manager")
	}
	if err := p.SaveProgress(t.Context(), time.Now(), ks+".outbox_messages", scyllacdc.StreamID{1}, scyllacdc.Progress{}); err == nil {
		t.Error("progress of outbox_messages saved through shard 0's manager")
	}
}
