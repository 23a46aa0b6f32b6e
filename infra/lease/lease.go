// Package lease is cluster mode's ownership of the outbox shards: each
// outbox_shard_<k> CDC table is relayed (CDC log -> Kafka) by exactly one
// node at a time, the holder of shard k's lease in outbox_shard_leases. A
// lease is taken and renewed by LWT and numbered by an epoch that grows
// with every take; the relay's CDC progress lives in the same partition and
// is saved IF epoch = the saver's, so a node that lost its lease (paused,
// partitioned, slow) can never move the checkpoint of its successor. The
// shard count the tables were created with is recorded once (CheckLayout),
// so nodes with different --outbox-shards never split the outbox two ways.
//
// Clocks: expires_at is a wall-clock time written by the holder and
// compared by a would-be successor against its own wall clock, so node
// clocks must agree to well within the TTL (NTP). The holder itself stops
// relaying at its local deadline, measured on the monotonic clock from the
// start of its last successful acquire or renew (Lease.Valid); a skew of s
// lets a successor start up to s before the holder stops, which can only
// publish an event twice (the relay is at-least-once anyway): the epoch
// fence keeps the checkpoint right whatever the clocks.
package lease

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/gocql/gocql"
)

// table is the lease table of schema/007_outbox_shard_leases.cql.
const table = "outbox_shard_leases"

// layoutShard is the partition that records the shard count.
const layoutShard = -1

// CheckLayout records shards as the store's shard count unless one is
// recorded already, and returns a *LayoutError when the recorded count
// differs: a node started with another --outbox-shards must refuse.
func CheckLayout(ctx context.Context, session *gocql.Session, keyspace string, shards int) error {
	applied, prev, err := cas(ctx, session,
		fmt.Sprintf("UPDATE %s.%s SET shard_count = ? WHERE shard = ? IF shard_count = null", keyspace, table),
		shards, layoutShard)
	if err != nil {
		return fmt.Errorf("record outbox shard count %d: %w", shards, err)
	}
	if applied {
		return nil
	}
	// The LWT's result is a serial read of the recorded count.
	if stored, _ := prev["shard_count"].(int); stored != shards {
		return &LayoutError{Stored: stored, Configured: shards}
	}
	return nil
}

// Lease is one node's hold on one shard, as returned by Acquire and Renew.
type Lease struct {
	Shard int
	Owner string
	Epoch int64
	// ExpiresAt is the expiry written to the store (wall clock).
	ExpiresAt time.Time
	// deadline is ExpiresAt with the monotonic reading of the acquire or
	// renew start, so a pause (SIGSTOP, GC, VM migration) counts against it.
	deadline time.Time
}

// Valid reports whether the holder may still relay the shard at now
// (time.Now(), so that the comparison uses the monotonic clock). Once it
// is false, another node may hold the shard: stop publishing before even
// trying to renew.
func (l Lease) Valid(now time.Time) bool {
	return now.Before(l.deadline)
}

// ShardLease is a shard's lease as stored; Owner is empty when no node
// holds it, Epoch 0 when none ever did.
type ShardLease struct {
	Shard     int
	Owner     string
	Epoch     int64
	ExpiresAt time.Time
	// Lag is the shard's CDC lag its owner reported at its last renewal.
	Lag time.Duration
}

// Leases takes, renews and releases this node's shard leases.
type Leases struct {
	cfg     Config
	session *gocql.Session
	log     *slog.Logger
	table   string // keyspace.outbox_shard_leases
}

// New validates cfg (after SetDefaults); session must stay open while the
// Leases are used.
func New(cfg Config, session *gocql.Session, log *slog.Logger) (*Leases, error) {
	cfg.SetDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if session == nil {
		return nil, fmt.Errorf("%w: session is required", ErrInvalidConfig)
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Leases{cfg: cfg, session: session, log: log, table: cfg.Keyspace + "." + table}, nil
}

// Acquire takes shard's lease when it is free, expired or this node's own
// (a restarted node takes a new epoch, fencing its previous run), with one
// LWT conditional on the epoch it read. It returns a *HeldError when
// another node holds it or took it first.
func (l *Leases) Acquire(ctx context.Context, shard int) (Lease, error) {
	if err := l.checkShard(shard); err != nil {
		return Lease{}, err
	}
	cur, found, err := l.read(ctx, shard)
	if err != nil {
		return Lease{}, err
	}
	start := time.Now()
	if cur.Owner != "" && cur.Owner != l.cfg.Owner && !start.After(cur.ExpiresAt) {
		return Lease{}, &HeldError{Shard: shard, Owner: cur.Owner, Epoch: cur.Epoch, ExpiresAt: cur.ExpiresAt}
	}
	deadline := start.Add(l.cfg.TTL)
	set := fmt.Sprintf("UPDATE %s SET owner = ?, epoch = ?, expires_at = ? WHERE shard = ? ", l.table)
	args := []any{l.cfg.Owner, cur.Epoch + 1, deadline, shard}
	stmt := set + "IF epoch = null"
	if found {
		stmt, args = set+"IF epoch = ?", append(args, cur.Epoch)
	}
	applied, _, err := cas(ctx, l.session, stmt, args...)
	if err != nil {
		return Lease{}, fmt.Errorf("acquire shard %d lease: %w", shard, err)
	}
	if !applied {
		// Another node took it between the read and the LWT: name it.
		now, _, err := l.read(ctx, shard)
		if err != nil {
			return Lease{}, err
		}
		return Lease{}, &HeldError{Shard: shard, Owner: now.Owner, Epoch: now.Epoch, ExpiresAt: now.ExpiresAt}
	}
	l.log.InfoContext(ctx, "shard lease acquired", "shard", shard, "epoch", cur.Epoch+1, "previous_owner", cur.Owner)
	return Lease{Shard: shard, Owner: l.cfg.Owner, Epoch: cur.Epoch + 1, ExpiresAt: deadline.Round(0), deadline: deadline}, nil
}

// Renew extends lease by the TTL from now and records lag, the shard's CDC
// lag, for List. It returns a *LostError when
// the lease moved on; the node must then stop relaying the shard.
func (l *Leases) Renew(ctx context.Context, lease Lease, lag time.Duration) (Lease, error) {
	start := time.Now()
	deadline := start.Add(l.cfg.TTL)
	if err := l.holderCAS(ctx, "renew", lease, "expires_at = ?, lag_ms = ?", deadline, lag.Milliseconds()); err != nil {
		return Lease{}, err
	}
	lease.ExpiresAt, lease.deadline = deadline.Round(0), deadline
	return lease, nil
}

// Release gives lease up so that another node can take the shard at once
// (graceful handover); the epoch stays, so the next take still fences this
// one. It returns a *LostError when the lease had moved on already.
func (l *Leases) Release(ctx context.Context, lease Lease) error {
	return l.holderCAS(ctx, "release", lease, "owner = null, expires_at = null")
}

// holderCAS applies set to lease's partition if lease still holds it.
func (l *Leases) holderCAS(ctx context.Context, op string, lease Lease, set string, args ...any) error {
	applied, prev, err := cas(ctx, l.session,
		fmt.Sprintf("UPDATE %s SET %s WHERE shard = ? IF owner = ? AND epoch = ?", l.table, set),
		append(args, lease.Shard, lease.Owner, lease.Epoch)...)
	if err != nil {
		return fmt.Errorf("%s shard %d lease: %w", op, lease.Shard, err)
	}
	if !applied {
		owner, _ := prev["owner"].(string)
		epoch, _ := prev["epoch"].(int64)
		l.log.WarnContext(ctx, "shard lease lost", "shard", lease.Shard, "epoch", lease.Epoch, "owner", owner, "found_epoch", epoch)
		return &LostError{Shard: lease.Shard, Epoch: lease.Epoch, FoundOwner: owner, FoundEpoch: epoch}
	}
	return nil
}

// List returns every shard's lease as stored, in shard order.
func (l *Leases) List(ctx context.Context) ([]ShardLease, error) {
	out := make([]ShardLease, 0, l.cfg.Shards)
	for shard := range l.cfg.Shards {
		sl, _, err := l.read(ctx, shard)
		if err != nil {
			return nil, err
		}
		out = append(out, sl)
	}
	return out, nil
}

// read returns shard's stored lease and whether an epoch was ever set.
func (l *Leases) read(ctx context.Context, shard int) (ShardLease, bool, error) {
	var (
		owner   *string
		epoch   *int64
		expires time.Time
		lagMS   int64
	)
	// Static columns repeat on every clustering row: one is enough.
	err := l.session.Query(fmt.Sprintf("SELECT owner, epoch, expires_at, lag_ms FROM %s WHERE shard = ? LIMIT 1", l.table), shard).
		WithContext(ctx).Scan(&owner, &epoch, &expires, &lagMS)
	if errors.Is(err, gocql.ErrNotFound) {
		return ShardLease{Shard: shard}, false, nil
	}
	if err != nil {
		return ShardLease{}, false, fmt.Errorf("read shard %d lease: %w", shard, err)
	}
	sl := ShardLease{Shard: shard, ExpiresAt: expires, Lag: time.Duration(lagMS) * time.Millisecond}
	if owner != nil {
		sl.Owner = *owner
	}
	if epoch != nil {
		sl.Epoch = *epoch
	}
	return sl, epoch != nil, nil
}

func (l *Leases) checkShard(shard int) error {
	if shard < 0 || shard >= l.cfg.Shards {
		return fmt.Errorf("shard %d out of range [0, %d)", shard, l.cfg.Shards)
	}
	return nil
}

// cas runs an LWT and returns whether it applied and the row it was
// checked against (ScyllaDB returns it whether or not it applied).
func cas(ctx context.Context, session *gocql.Session, stmt string, args ...any) (bool, map[string]any, error) {
	prev := map[string]any{}
	applied, err := session.Query(stmt, args...).WithContext(ctx).MapScanCAS(prev)
	return applied, prev, err
}
