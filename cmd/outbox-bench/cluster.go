package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/urfave/cli/v3"
	"golang.org/x/sync/errgroup"
	"google.golang.org/protobuf/proto"

	"github.com/outboxnode/outbox/actors/orders"
	"github.com/outboxnode/outbox/infra/config"
	"github.com/outboxnode/outbox/infra/membership"
	"github.com/outboxnode/outbox/infra/scylla"
	"github.com/outboxnode/outbox/messages"
)

// Defaults of a cluster bench (clusterConfig.SetDefaults).
const (
	DefaultClusterNodes = 3
	DefaultClusterStep  = 10 * time.Second
	// DefaultClusterClients is what BenchmarkCommandPath keeps in flight:
	// enough to load a member, few enough that a round trip is not mostly
	// queueing (at 5,000/s, 256 in flight wait 51 ms on average).
	DefaultClusterClients = 64
	// DefaultClusterBacklog takes a few seconds to drain: a smaller one
	// drains in under a second, too short to compare K=1 with K=8.
	DefaultClusterBacklog = 100_000
)

const (
	// clusterShards is K of the command rows and the larger K of the drains.
	clusterShards = config.DefaultOutboxShards
	// clusterName is the --cluster-name of every member the bench starts.
	clusterName = "bench"
	// clusterTemplate puts every event of an order in one topic, as the
	// e2e cluster tests do; clusterTopic is that topic.
	clusterTemplate = "cluster.{{aggregate_type}}"
	clusterTopic    = "cluster." + orders.AggregateType
	// clusterFormTimeout bounds the wait until the members list each other
	// and own every shard.
	clusterFormTimeout = time.Minute
	// backlogTimeout bounds writing a drain's backlog; a slower store gets
	// a smaller backlog, which the table shows.
	backlogTimeout = 2 * time.Minute
)

// The targets the cluster rows are held to, printed beside the figures.
const (
	targetCommandRate = 5000
	targetCommandP99  = 50 * time.Millisecond
	// targetDrainRatio is the least K=8 drain rate over the K=1 one.
	targetDrainRatio = 0.8
)

// clusterConfig is one cluster bench.
type clusterConfig struct {
	Nodes        int           // members of the multi-member rows
	Step         time.Duration // each command step
	Clients      int           // concurrent commands of a step
	Backlog      int           // events written before each drain's members start
	DrainTimeout time.Duration // longest wait for a drain's first record, and for the rest
	Window       time.Duration // the members' CDC confidence window
	Bins         binaries
}

// SetDefaults fills the zero fields.
func (c *clusterConfig) SetDefaults() {
	c.Nodes = cmpOr(c.Nodes, DefaultClusterNodes)
	c.Step = cmpOr(c.Step, DefaultClusterStep)
	c.Clients = cmpOr(c.Clients, DefaultClusterClients)
	c.Backlog = cmpOr(c.Backlog, DefaultClusterBacklog)
	c.DrainTimeout = cmpOr(c.DrainTimeout, DefaultDrainTimeout)
	c.Window = cmpOr(c.Window, DefaultWindow)
}

// Validate rejects a bench that cannot measure anything.
func (c clusterConfig) Validate() error {
	var errs []error
	if c.Nodes < 1 {
		errs = append(errs, fmt.Errorf("nodes %d: want at least 1", c.Nodes))
	}
	if c.Step <= 0 || c.Clients <= 0 || c.DrainTimeout <= 0 || c.Window <= 0 {
		errs = append(errs, errors.New("step, clients, drain timeout and window must be positive"))
	}
	// A drain rate runs from the first to the last arrival: two at least.
	if c.Backlog < 2 {
		errs = append(errs, fmt.Errorf("backlog %d: want at least 2 events", c.Backlog))
	}
	if c.Bins.node == "" || c.Bins.devstack == "" {
		errs = append(errs, errors.New("the node and devstack binaries are needed"))
	}
	return errors.Join(errs...)
}

// memberCounts are the cluster sizes of the command rows: one member, then Nodes.
func (c clusterConfig) memberCounts() []int {
	return slices.Compact([]int{1, c.Nodes})
}

// drainSetup is one drain row's cluster: its members and K.
type drainSetup struct{ members, shards int }

// drains are K=1 and K=8 on one member, whose ratio the summary gives,
// then K=8 on Nodes members.
func (c clusterConfig) drains() []drainSetup {
	return slices.Compact([]drainSetup{{1, 1}, {1, clusterShards}, {c.Nodes, clusterShards}})
}

func clusterCommand() *cli.Command {
	return &cli.Command{
		Name: "cluster",
		Usage: "cluster mode on devstack: unpaced commands (conditional writes) through one member and through --nodes, " +
			"then the relay's drain of a backlog in K=1 and K=8 shard tables",
		Flags: append(binFlags(),
			&cli.IntFlag{Name: "nodes", Value: DefaultClusterNodes, Usage: "members of the multi-member rows (commands round robin over them)"},
			&cli.DurationFlag{Name: "step", Value: DefaultClusterStep, Usage: "duration of each command step"},
			&cli.IntFlag{Name: "clients", Value: DefaultClusterClients, Usage: "commands in flight at once in a step (unpaced: latency grows with them)"},
			&cli.IntFlag{Name: "backlog", Value: DefaultClusterBacklog, Usage: "events written to the shard tables before each drain's members start"},
			&cli.DurationFlag{Name: "drain-timeout", Value: DefaultDrainTimeout, Usage: "longest wait for a drain's first record, and for the rest"},
			&cli.DurationFlag{Name: "window", Value: DefaultWindow, Usage: "CDC confidence window of the members (server write timestamps)"},
		),
		Action: func(ctx context.Context, cmd *cli.Command) error {
			rep, err := runCluster(ctx, clusterConfigOf(cmd), progressLog())
			if err != nil {
				return err
			}
			rep.write(os.Stdout)
			return nil
		},
	}
}

func clusterConfigOf(cmd *cli.Command) clusterConfig {
	return clusterConfig{
		Nodes: cmd.Int("nodes"), Step: cmd.Duration("step"), Clients: cmd.Int("clients"), Backlog: cmd.Int("backlog"),
		DrainTimeout: cmd.Duration("drain-timeout"), Window: cmd.Duration("window"),
		Bins: binaries{node: cmd.String("node-bin"), devstack: cmd.String("devstack-bin")},
	}
}

// clusterReport is everything one cluster bench measured.
type clusterReport struct {
	cfg      clusterConfig
	commands []commandRow
	drains   []drainRow
}

// commandRow is one unpaced command step through a cluster.
type commandRow struct {
	members, shards int
	command         string
	rate            float64 // commands accepted per second
	accepted        int
	errs            int64
	p50, p95, p99   time.Duration // round trip in the bench
	cpu             cpuSplit      // per 1,000 accepted commands
}

// drainRow is one cluster draining a backlog.
type drainRow struct {
	drainSetup
	backlog, drained int
	rate             float64  // records/s from the first to the last arrival
	cpu              cpuSplit // per 1,000 records, from the first arrival
}

// runCluster measures commands, then drains, each on a fresh devstack:
// K is fixed when a store's schema is created, and a store full of the
// previous rows' orders would slow the next.
func runCluster(ctx context.Context, cfg clusterConfig, log *slog.Logger) (*clusterReport, error) {
	cfg.SetDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("cluster bench: %w", err)
	}
	rep := &clusterReport{cfg: cfg}
	for _, members := range cfg.memberCounts() {
		rows, err := commandRows(ctx, cfg, log, members)
		if err != nil {
			return nil, fmt.Errorf("commands through %d members: %w", members, err)
		}
		rep.commands = append(rep.commands, rows...)
	}
	for _, d := range cfg.drains() {
		row, err := drain(ctx, cfg, log, d)
		if err != nil {
			return nil, fmt.Errorf("drain with %d members, K=%d: %w", d.members, d.shards, err)
		}
		rep.drains = append(rep.drains, row)
	}
	return rep, nil
}

// commandRows runs a cluster of members (K=8) and sends it an unpaced
// CreateOrder step, then an UpdateOrder step on the orders created, which
// exercises the commit's version condition on an existing order.
func commandRows(ctx context.Context, cfg clusterConfig, log *slog.Logger, members int) (rows []commandRow, err error) {
	ds, cql, kafka, err := startDevstack(cfg.Bins.devstack)
	if err != nil {
		return nil, err
	}
	defer func() { _ = ds.stop(stopTimeout) }()
	if err := createTopics(kafka, clusterTopic); err != nil {
		return nil, err
	}
	c, err := startCluster(cfg, ds, cql, kafka, members, clusterShards)
	if err != nil {
		return nil, err
	}
	defer func() { err = errors.Join(err, c.stop()) }()
	if err := c.waitFormed(ctx, clusterShards); err != nil {
		return nil, err
	}
	log.Info("cluster formed", "members", members, "shards", clusterShards)
	book := &orderBook{}
	// One command through each member first: the bench's remote connects
	// to each before a step times anything.
	for range c.nodes {
		if _, err := book.create(c.target()); err != nil {
			return nil, fmt.Errorf("warm-up: %w", err)
		}
	}
	for _, s := range []struct {
		command string
		op      func(addr string) (string, error)
	}{{"CreateOrder", book.create}, {"UpdateOrder", book.update}} {
		row, err := c.step(ctx, log, cfg.Step, cfg.Clients, s.command, func() (string, error) { return s.op(c.target()) })
		if err != nil {
			return nil, err
		}
		rows = append(rows, row)
	}
	return rows, nil
}

// drain writes a backlog into a fresh store with d.shards shard tables,
// then starts d.members members and measures how fast they publish it.
func drain(ctx context.Context, cfg clusterConfig, log *slog.Logger, d drainSetup) (row drainRow, err error) {
	row.drainSetup = d
	ds, cql, kafka, err := startDevstack(cfg.Bins.devstack)
	if err != nil {
		return row, err
	}
	defer func() { _ = ds.stop(stopTimeout) }()
	if row.backlog, err = writeBacklog(ctx, cql, d.shards, cfg.Backlog, log); err != nil {
		return row, err
	}
	if err := createTopics(kafka, clusterTopic); err != nil {
		return row, err
	}
	// The consumer runs before the members start, so that arrival times
	// are the relay's, not a catch-up burst of the consumer's.
	coll, err := collect(ctx, kafka, clusterTopic)
	if err != nil {
		return row, err
	}
	defer coll.close()
	c, err := startCluster(cfg, ds, cql, kafka, d.members, d.shards)
	if err != nil {
		return row, err
	}
	defer func() { err = errors.Join(err, c.stop()) }()
	log.Info("members started", "members", d.members, "shards", d.shards, "backlog", row.backlog)
	// CPU counts from the first arrival, like the rate: without start-up.
	if coll.waitCount(ctx, 1, cfg.DrainTimeout, cfg.DrainTimeout) == 0 {
		return row, fmt.Errorf("no record within %s: %s", cfg.DrainTimeout, c.nodes[0].tail())
	}
	cpu0, err := c.cpuTimes()
	if err != nil {
		return row, err
	}
	got := coll.waitCount(ctx, row.backlog, drainQuiet, cfg.DrainTimeout)
	cpu1, err := c.cpuTimes()
	if err != nil {
		return row, err
	}
	row.rate, row.drained = coll.drainRate(got)
	row.cpu = cpu1.per1k(cpu0, row.drained-1)
	log.Info("backlog drained", "members", d.members, "shards", d.shards, "records", row.drained, "of", row.backlog, "records/s", int(row.rate))
	return row, nil
}

// writeBacklog creates the schema with shards shard tables on the store at
// cql and commits n created orders to them with the members' ShardStore,
// from storeWorkers at once. It returns how many it wrote.
func writeBacklog(ctx context.Context, cql string, shards, n int, log *slog.Logger) (int, error) {
	session, scfg, err := storeSession(ctx, cql, shards)
	if err != nil {
		return 0, err
	}
	defer session.Close()
	store, err := scylla.NewShardStore(session, scfg.Keyspace, shards, scfg.OutboxTTL)
	if err != nil {
		return 0, fmt.Errorf("backlog: %w", err)
	}
	res := pace(ctx, pacing{d: backlogTimeout, workers: storeWorkers, calls: n}, commitDirect(store))
	if res.errs > 0 {
		return 0, fmt.Errorf("backlog: %d of %d commits failed, last: %w", res.errs, n, res.lastErr)
	}
	log.Info("backlog written", "events", len(res.ids), "shards", shards, "events/s", int(res.rate()))
	return len(res.ids), nil
}

// cluster is the member processes of one cluster on one devstack.
type cluster struct {
	nodes    []*node
	devstack *proc
	// members are the members' cluster remote addresses: how membership
	// lists them and leases name their owners.
	members []string
	next    atomic.Uint64
}

// memberAddrs are one member's cluster addresses: the health endpoint its
// peers probe and its private remote.
type memberAddrs struct{ health, remote string }

// clusterNodeArgs are member i's cluster-mode flags in a cluster of addrs
// with shards outbox shards; every member is given every peer.
func clusterNodeArgs(addrs []memberAddrs, i, shards int) []string {
	peers := make([]string, len(addrs))
	for j, a := range addrs {
		peers[j] = a.health
	}
	return []string{"--cluster-name", clusterName, "--cluster-addr", addrs[i].health, "--cluster-peers", strings.Join(peers, ","),
		"--cluster-remote-addr", addrs[i].remote, "--outbox-shards", strconv.Itoa(shards), "--topic-template", clusterTemplate}
}

// startCluster starts n members on devstack ds at cql and kafka, all at
// once so that they join as one member list rather than one after another,
// and returns once each serves /health.
func startCluster(cfg clusterConfig, ds *proc, cql, kafka string, n, shards int) (*cluster, error) {
	addrs := make([]memberAddrs, n)
	for i := range addrs {
		var err error
		for _, a := range []*string{&addrs[i].health, &addrs[i].remote} {
			if *a, err = freeAddr(); err != nil {
				return nil, err
			}
		}
	}
	c := &cluster{nodes: make([]*node, n), devstack: ds}
	var g errgroup.Group
	for i := range n {
		g.Go(func() error {
			var err error
			c.nodes[i], err = startNode(cfg.Bins.node, append(devstackNodeArgs(cql, kafka, cfg.Window), clusterNodeArgs(addrs, i, shards)...)...)
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return nil, errors.Join(fmt.Errorf("start %d members: %w", n, err), c.stop())
	}
	for _, a := range addrs {
		c.members = append(c.members, a.remote)
	}
	return c, nil
}

// stop stops the started members, all at once (each releases its leases).
func (c *cluster) stop() error {
	var g errgroup.Group
	for _, n := range c.nodes {
		if n != nil {
			g.Go(n.stop)
		}
	}
	return g.Wait()
}

// cpuTimes are CPU times so far of the members (summed), devstack, the
// bench process and the whole machine, read at: they share its cores, and
// what other processes used shows how noisy a figure is.
type cpuTimes struct {
	node, devstack, bench, machine time.Duration
	at                             time.Time
}

// cpuSplit is CPU seconds per 1,000 operations by process, and the cores
// other processes of the machine kept busy meanwhile.
type cpuSplit struct{ node, devstack, bench, otherCores float64 }

// per1k is the CPU each used since t0 per 1,000 of n operations.
func (t cpuTimes) per1k(t0 cpuTimes, n int) cpuSplit {
	f := func(now, then time.Duration) float64 { return 1000 * (now - then).Seconds() / float64(max(n, 1)) }
	s := cpuSplit{node: f(t.node, t0.node), devstack: f(t.devstack, t0.devstack), bench: f(t.bench, t0.bench)}
	if wall := t.at.Sub(t0.at).Seconds(); wall > 0 {
		ours := (t.node - t0.node) + (t.devstack - t0.devstack) + (t.bench - t0.bench)
		// The counters tick at different moments: a small negative is none.
		s.otherCores = max(0, (t.machine-t0.machine-ours).Seconds()/wall)
	}
	return s
}

func (c *cluster) cpuTimes() (cpuTimes, error) {
	machine, err := machineCPU()
	if err != nil {
		return cpuTimes{}, err
	}
	t := cpuTimes{bench: selfCPU(), machine: machine, at: time.Now()}
	for _, n := range c.nodes {
		used, err := n.cpu()
		if err != nil {
			return t, err
		}
		t.node += used
	}
	t.devstack, err = c.devstack.cpu()
	return t, err
}

// target is the next member's public remote, round robin.
func (c *cluster) target() string {
	return c.nodes[(c.next.Add(1)-1)%uint64(len(c.nodes))].remote
}

// waitFormed waits until every member lists all members alive and every
// shard is owned by one of them: commands then reach their grains at once.
func (c *cluster) waitFormed(ctx context.Context, shards int) error {
	deadline := time.Now().Add(clusterFormTimeout)
	for {
		err := c.formed(shards)
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("cluster of %d not formed within %s: %w", len(c.nodes), clusterFormTimeout, err)
		}
		if err := sleepCtx(ctx, 200*time.Millisecond); err != nil {
			return err
		}
	}
}

func (c *cluster) formed(shards int) error {
	for _, n := range c.nodes {
		r, err := ask[*messages.ClusterReport](newCommander(), n.remote, &messages.ClusterQuery{})
		if err != nil {
			return err
		}
		if err := formed(r, c.members, shards); err != nil {
			return fmt.Errorf("member %s: %w", n.remote, err)
		}
	}
	return nil
}

// formed says why r is not a cluster of exactly members with each of
// shards owned by one of them under a lease not expired; nil when it is.
func formed(r *messages.ClusterReport, members []string, shards int) error {
	var alive []string
	for _, m := range r.GetMembers() {
		if m.GetStatus() == string(membership.StatusAlive) {
			alive = append(alive, m.GetAddress())
		}
	}
	slices.Sort(alive)
	if want := slices.Sorted(slices.Values(members)); !slices.Equal(alive, want) {
		return fmt.Errorf("members %v alive, want %v", alive, want)
	}
	if len(r.GetShards()) != shards {
		return fmt.Errorf("%d shards listed, want %d", len(r.GetShards()), shards)
	}
	for _, s := range r.GetShards() {
		if !slices.Contains(members, s.GetOwner()) || s.GetExpired() {
			return fmt.Errorf("shard %d: owner %q (expired %t) is not a live member", s.GetShard(), s.GetOwner(), s.GetExpired())
		}
	}
	return nil
}

// step sends op unpaced from clients at once for d and times each round
// trip; the processes' CPU is read around it.
func (c *cluster) step(ctx context.Context, log *slog.Logger, d time.Duration, clients int, command string, op func() (string, error)) (commandRow, error) {
	row := commandRow{members: len(c.nodes), shards: clusterShards, command: command}
	cpu0, err := c.cpuTimes()
	if err != nil {
		return row, err
	}
	res := pace(ctx, pacing{d: d, workers: clients}, op)
	cpu1, err := c.cpuTimes()
	if err != nil {
		return row, err
	}
	row.rate, row.accepted, row.errs = res.rate(), len(res.ids), res.errs
	if len(res.lat) == 0 {
		return row, fmt.Errorf("%s: nothing accepted (%d errors, last: %v)", command, res.errs, res.lastErr)
	}
	row.p50, row.p95, row.p99 = percentiles(res.lat)
	row.cpu = cpu1.per1k(cpu0, len(res.ids))
	log.Info("command step", "members", row.members, "command", command, "commands/s", int(row.rate),
		"p50", row.p50.Round(time.Millisecond), "p99", row.p99.Round(time.Millisecond), "errors", row.errs, "last_error", res.lastErr)
	return row, nil
}

// orderBook keeps the orders created through a cluster, for the updates.
type orderBook struct {
	mu   sync.Mutex
	ids  []string
	next atomic.Uint64
}

// create sends a CreateOrder to addr and keeps the order.
func (o *orderBook) create(addr string) (string, error) {
	a, err := ask[*messages.CommandAccepted](newCommander(), addr, newCreateOrder())
	if err != nil {
		return "", err
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	o.ids = append(o.ids, a.GetOrderId())
	return a.GetEventId(), nil
}

// update sends an UpdateOrder of the next kept order to addr; the warm-up
// keeps one order at least. The orders are taken in turn: with many more
// orders than clients, two commands rarely wait for one grain.
func (o *orderBook) update(addr string) (string, error) {
	i := o.next.Add(1)
	o.mu.Lock()
	id := o.ids[i%uint64(len(o.ids))]
	o.mu.Unlock()
	amount := fmt.Sprintf("%d.00", 13+i%50)
	a, err := ask[*messages.CommandAccepted](newCommander(), addr, &messages.UpdateOrder{OrderId: id, Amount: proto.String(amount)})
	if err != nil {
		return "", err
	}
	return a.GetEventId(), nil
}
