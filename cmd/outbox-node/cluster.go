package main

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/asynkron/protoactor-go/cluster"
	"github.com/gocql/gocql"
	"github.com/google/uuid"
	"github.com/scylladb/gocqlx/v2"

	"github.com/outboxnode/outbox/actors/cdcstream"
	"github.com/outboxnode/outbox/actors/clusterinfo"
	"github.com/outboxnode/outbox/actors/orders"
	"github.com/outboxnode/outbox/infra/cdc"
	"github.com/outboxnode/outbox/infra/gateway"
	"github.com/outboxnode/outbox/infra/lease"
	"github.com/outboxnode/outbox/infra/membership"
	"github.com/outboxnode/outbox/infra/metrics"
	"github.com/outboxnode/outbox/infra/scylla"
	"github.com/outboxnode/outbox/infra/shardrelay"
	"github.com/outboxnode/outbox/messages"
)

// member is what cluster mode adds to the node: its membership (over an
// actor system of its own, whose remote only the members use), the order
// grains it hosts and the leases of the outbox shards it relays.
type member struct {
	members *membership.Membership
	leases  *lease.Leases
	// self is this member's address in the member list and on its leases.
	self    string
	shards  int
	metrics *metrics.Metrics
}

// joinCluster checks the shard layout, starts the members' actor system
// and remote (guarded as a members' remote) and joins the cluster, hosting
// order grains over the conditional shard store. The membership is left
// at shutdown after the actor tree stopped (registered before it).
func (n *node) joinCluster(ctx context.Context, session gocqlx.Session, m *metrics.Metrics) (*member, error) {
	cfg, ks, k := n.cfg.Cluster, n.cfg.Scylla.Keyspace, n.cfg.Scylla.OutboxShards
	if err := lease.CheckLayout(ctx, session.Session, ks, k); err != nil {
		return nil, err
	}
	addr := cfg.Remote()
	csys := actor.NewActorSystem(actor.WithLoggerFactory(protoactorLogger(n.logger)), actor.WithDeadLetterRequestLogging(false))
	remoteCfg, err := n.remoteConfig(addr, gateway.Config{Members: true, Counter: m, Replier: csys.Root, Logger: n.logger.With("component", "cluster-gateway")})
	if err != nil {
		return nil, fmt.Errorf("cluster remote: %w", err)
	}
	store, err := scylla.NewShardStore(session, ks, k, n.cfg.Scylla.OutboxTTL)
	if err != nil {
		return nil, err
	}
	grain, err := orders.GrainProps(store, n.ordersConfig())
	if err != nil {
		return nil, err
	}
	mcfg := membership.Config{Name: cfg.Name, Addr: cfg.Addr, Peers: cfg.Peers}
	ms, err := membership.Start(ctx, csys, mcfg, remoteCfg, cluster.NewKind(orders.GrainKind, grain))
	if err != nil {
		return nil, portHint(err, "cluster-remote-addr")
	}
	n.onShutdown("cluster membership", func(context.Context) error { ms.Shutdown(true); return nil })
	// A member its peers dropped cannot rejoin under its id: stop, so that
	// the restart (a new id) rejoins.
	go func() {
		for err := range ms.Dropped() {
			n.fail(err)
		}
	}()
	leases, err := lease.New(lease.Config{Keyspace: ks, Owner: addr, Shards: k}, session.Session, n.logger.With("component", "lease"))
	if err != nil {
		return nil, err
	}
	n.logger.Info("cluster mode", "cluster", cfg.Name, "member", addr, "health", cfg.Addr, "peers", len(cfg.Peers), "outbox_shards", k)
	return &member{members: ms, leases: leases, self: addr, shards: k, metrics: m}, nil
}

// grains asks an order's grain wherever the cluster places it; the orders
// router answers the requester through the node's own actor system, so
// clients never talk to the members' remote.
func (c *member) grains(timeout time.Duration) orders.Grains {
	return func(id uuid.UUID, msg any) (any, error) {
		return c.members.Cluster().Request(id.String(), orders.GrainKind, msg, cluster.WithTimeout(timeout))
	}
}

// placement returns the shards membership.Assign gives this member over
// the current member list; none before the first list is published.
func (c *member) placement() []int {
	var addrs []string
	for _, mm := range c.members.Members() {
		addrs = append(addrs, mm.Address)
	}
	if !slices.Contains(addrs, c.self) {
		return nil
	}
	var mine []int
	for shard, owner := range membership.Assign(c.shards, addrs) {
		if owner == c.self {
			mine = append(mine, shard)
		}
	}
	slices.Sort(mine)
	return mine
}

// source is the relay's source in cluster mode: the placed shards' CDC
// logs, each read under its lease with checkpoints fenced on its epoch.
func (c *member) source(reader cdc.Config, session *gocql.Session, logger *slog.Logger) (cdcstream.Source, error) {
	newReader := func(shard int, l shardrelay.Lease, guard func() error) (shardrelay.Reader, error) {
		r := reader
		r.Table = scylla.ShardTableName(shard)
		held, ok := l.(*shardrelay.Held)
		if !ok {
			return nil, fmt.Errorf("shard %d: lease %T is not a stored lease", shard, l)
		}
		return cdc.New(r, session, logger.With("component", "cdc", "shard", shard), cdc.WithProgress(c.leases.Progress(held.Lease())), cdc.WithGuard(guard))
	}
	return shardrelay.New(shardrelay.Config{Metrics: c.metrics}, shardrelay.Fenced{Leases: c.leases}, c.placement, newReader, logger.With("component", "shardrelay"))
}

// clusterInfo answers ClusterQuery from the member list and the stored leases.
func (c *member) clusterInfo(timeout time.Duration) (*actor.Props, error) {
	return clusterinfo.Props(c, c, timeout)
}

// Members implements clusterinfo.Members.
func (c *member) Members() []*messages.ClusterMember {
	var out []*messages.ClusterMember
	for _, mm := range c.members.Members() {
		out = append(out, &messages.ClusterMember{Address: mm.Address, Status: string(mm.Status)})
	}
	return out
}

// Shards implements clusterinfo.Shards.
func (c *member) Shards(ctx context.Context) ([]*messages.ShardStatus, error) {
	ls, err := c.leases.List(ctx)
	if err != nil {
		return nil, err
	}
	now := time.Now()
	out := make([]*messages.ShardStatus, 0, len(ls))
	for _, l := range ls {
		out = append(out, &messages.ShardStatus{
			Shard: int32(l.Shard), Owner: l.Owner, Epoch: l.Epoch,
			LagSeconds: l.Lag.Seconds(), Expired: l.Owner != "" && now.After(l.ExpiresAt),
		})
	}
	return out, nil
}
