package e2e

import (
	"cmp"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"google.golang.org/protobuf/proto"

	"github.com/outboxnode/outbox/infra/config"
	"github.com/outboxnode/outbox/messages"
	"github.com/outboxnode/outbox/test/harness"
	"github.com/outboxnode/outbox/test/monitoring"
)

// clusterView is `outboxctl -o json cluster`.
type clusterView struct {
	Members []struct {
		Address string `json:"address"`
		Status  string `json:"status"`
	} `json:"members"`
	Shards []struct {
		Shard      int     `json:"shard"`
		Owner      string  `json:"owner"`
		Epoch      int64   `json:"epoch"`
		LagSeconds float64 `json:"lag_seconds"`
	} `json:"shards"`
}

// clusterNode is one member: its node process and the addresses it was
// started with, so that it can be started again on them.
type clusterNode struct {
	*harness.Node
	health, member string
}

const clusterShards = 8

// clusterTopic puts every event of an order in one topic (and, by its key,
// one partition), the only place Kafka orders them.
const clusterTopic = "cluster.{{aggregate_type}}"

// startMember starts outbox-node i of the cluster of the members at health
// on the devstack's store and broker, with extra flags.
func startMember(t *testing.T, bins harness.Binaries, cql, kafka string, health []string, i int, remote string, extra ...string) *clusterNode {
	t.Helper()
	var peers string
	for j, h := range health {
		if j > 0 {
			peers += ","
		}
		peers += h
	}
	args := []string{"--scylla-hosts", cql, "--kafka-brokers", kafka, "--migrate", "--consistency", "ONE",
		"--scylla-server-timestamps=true", "--cluster-name", "e2e", "--cluster-addr", health[i], "--cluster-peers", peers,
		"--outbox-shards", strconv.Itoa(clusterShards), "--topic-template", clusterTopic}
	if remote != "" {
		args = append(args, "--remote-addr", remote)
	}
	n := harness.StartNode(t, bins, append(args, extra...)...)
	return &clusterNode{Node: n, health: health[i], member: config.Cluster{Addr: health[i]}.Remote()}
}

// view reads the cluster through node's outboxctl.
func view(t *testing.T, node *harness.Node) (clusterView, error) {
	t.Helper()
	res := node.Ctl(t, "-o", "json", "cluster")
	var v clusterView
	if res.Code != 0 {
		return v, fmt.Errorf("outboxctl cluster exited %d: %s", res.Code, res.Stderr)
	}
	if err := json.Unmarshal([]byte(res.Stdout), &v); err != nil {
		return v, fmt.Errorf("outboxctl -o json cluster: %v: %s", err, res.Stdout)
	}
	return v, nil
}

// ownedBy waits until the cluster has exactly the members and every shard
// is owned by one of them, and returns the view.
func ownedBy(t *testing.T, node *harness.Node, timeout time.Duration, members ...string) clusterView {
	t.Helper()
	var v clusterView
	harness.Eventually(t, timeout, func() error {
		var err error
		if v, err = view(t, node); err != nil {
			return err
		}
		var got []string
		for _, m := range v.Members {
			got = append(got, m.Address)
		}
		slices.Sort(got)
		want := slices.Sorted(slices.Values(members))
		if !slices.Equal(got, want) {
			return fmt.Errorf("members %v, want %v", got, want)
		}
		if len(v.Shards) != clusterShards {
			return fmt.Errorf("%d shards listed, want %d", len(v.Shards), clusterShards)
		}
		owned := map[string]int{}
		for _, s := range v.Shards {
			if !slices.Contains(members, s.Owner) {
				return fmt.Errorf("shard %d owned by %q, not a member of %v", s.Shard, s.Owner, members)
			}
			owned[s.Owner]++
		}
		// Placement spreads the shards evenly: each member floor or ceil of K/n.
		for _, m := range members {
			if owned[m] < clusterShards/len(members) {
				return fmt.Errorf("member %s owns %d shards, want at least %d: %v", m, owned[m], clusterShards/len(members), owned)
			}
		}
		return nil
	})
	return v
}

// memberMetrics reads a node's /metrics.
func memberMetrics(t *testing.T, n *harness.Node) (map[string]*dto.MetricFamily, error) {
	t.Helper()
	body, code := n.HTTPGet(t, "/metrics")
	if code != 200 {
		return nil, fmt.Errorf("%s/metrics: %d", n.Metrics, code)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(strings.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("%s/metrics: %v", n.Metrics, err)
	}
	return families, nil
}

// processed is how many events of its shards a node has acknowledged.
func processed(t *testing.T, n *harness.Node) (float64, error) {
	families, err := memberMetrics(t, n)
	var sum float64
	for _, m := range families["outbox_shard_events_processed_total"].GetMetric() {
		sum += m.GetCounter().GetValue()
	}
	return sum, err
}

// shardsHeld waits until each member's /metrics agrees with the view: it
// holds exactly the shards the view gives it, reports a lag for those
// only, has counted events for them, and exports every cluster series.
func shardsHeld(t *testing.T, v clusterView, nodes ...*clusterNode) {
	t.Helper()
	harness.Eventually(t, 30*time.Second, func() error {
		for _, n := range nodes {
			var want []int
			for _, s := range v.Shards {
				if s.Owner == n.member {
					want = append(want, s.Shard)
				}
			}
			families, err := memberMetrics(t, n.Node)
			if err != nil {
				return err
			}
			for _, name := range monitoring.ClusterSeries {
				if families[name] == nil {
					return fmt.Errorf("%s /metrics lacks %s", n.member, name)
				}
			}
			shards := func(name string, keep func(*dto.Metric) bool) []int {
				var out []int
				for _, m := range families[name].GetMetric() {
					if keep(m) {
						for _, l := range m.GetLabel() {
							if k, err := strconv.Atoi(l.GetValue()); l.GetName() == "shard" && err == nil {
								out = append(out, k)
							}
						}
					}
				}
				slices.Sort(out)
				return out
			}
			held := shards("outbox_shard_held", func(m *dto.Metric) bool { return m.GetGauge().GetValue() == 1 })
			lagged := shards("outbox_shard_lag_seconds", func(*dto.Metric) bool { return true })
			counted := shards("outbox_shard_events_processed_total", func(m *dto.Metric) bool { return m.GetCounter().GetValue() > 0 })
			if !slices.Equal(held, want) || !slices.Equal(lagged, want) {
				return fmt.Errorf("%s: outbox_shard_held on %v, lag reported for %v; the view gives it %v", n.member, held, lagged, want)
			}
			for _, k := range want {
				if !slices.Contains(counted, k) {
					return fmt.Errorf("%s: no event counted for its shard %d (counted: %v)", n.member, k, counted)
				}
			}
		}
		return nil
	})
}

type clusterAck struct {
	order, event string
	version      int32
}

// clusterLoad creates orders and updates each three times, every command
// through another of its target nodes, and keeps what was acknowledged.
type clusterLoad struct {
	mu      sync.Mutex
	acks    []clusterAck
	targets atomic.Pointer[[]string]
	stop    chan struct{}
	wg      sync.WaitGroup
}

func startLoad(clients int, targets ...string) *clusterLoad {
	l := &clusterLoad{stop: make(chan struct{})}
	l.target(targets...)
	for c := range clients {
		l.wg.Go(func() { l.client(c) })
	}
	return l
}

// target sends the next commands to these nodes only.
func (l *clusterLoad) target(nodes ...string) { l.targets.Store(&nodes) }

func (l *clusterLoad) send(i int, msg proto.Message) (*messages.CommandAccepted, bool) {
	ts := *l.targets.Load()
	a, err := harness.Command(ts[i%len(ts)], msg, 10*time.Second)
	if err != nil {
		return nil, false // not acknowledged: nothing is owed
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.acks = append(l.acks, clusterAck{a.GetOrderId(), a.GetEventId(), a.GetVersion()})
	return a, true
}

func (l *clusterLoad) client(c int) {
	for i := c; ; i++ {
		select {
		case <-l.stop:
			return
		default:
		}
		a, ok := l.send(i, &messages.CreateOrder{CustomerId: "c" + strconv.Itoa(c), Amount: "1.00", Currency: "EUR"})
		for u := 0; ok && u < 3; u++ {
			_, ok = l.send(i+u+1, &messages.UpdateOrder{OrderId: a.GetOrderId(), Amount: proto.String(strconv.Itoa(u+2) + ".00")})
		}
	}
}

func (l *clusterLoad) acked() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.acks)
}

// await waits until n more commands than now were acknowledged.
func (l *clusterLoad) await(t *testing.T, n int, timeout time.Duration) {
	t.Helper()
	from := l.acked()
	harness.Eventually(t, timeout, func() error {
		if got := l.acked() - from; got < n {
			return fmt.Errorf("%d commands acknowledged, want %d", got, n)
		}
		return nil
	})
}

// end stops the clients and returns the acknowledged event ids.
func (l *clusterLoad) end() []string {
	close(l.stop)
	l.wg.Wait()
	l.mu.Lock()
	defer l.mu.Unlock()
	ids := make([]string, len(l.acks))
	for i, a := range l.acks {
		ids[i] = a.event
	}
	return ids
}

// delivered waits until every acknowledged event is in Kafka (0 lost),
// checks that each order's versions, first copies only, are strictly
// increasing in its partition, and returns the records and duplicates.
func delivered(t *testing.T, c *harness.Collector, ids []string) (records, duplicates int) {
	t.Helper()
	c.WaitEvents(t, 60*time.Second, ids)
	all := c.All()
	slices.SortFunc(all, func(a, b harness.Record) int {
		return cmp.Or(cmp.Compare(a.Partition, b.Partition), cmp.Compare(a.Offset, b.Offset))
	})
	seen := map[string]bool{}
	versions := map[string][]int{}
	for _, r := range all {
		id := r.Headers["event_id"]
		if seen[id] {
			duplicates++
			continue
		}
		seen[id] = true
		v, err := strconv.Atoi(r.Headers["aggregate_version"])
		if err != nil {
			t.Fatalf("record %d/%d: aggregate_version %q", r.Partition, r.Offset, r.Headers["aggregate_version"])
		}
		versions[r.Key] = append(versions[r.Key], v)
	}
	for order, vs := range versions {
		for i := 1; i < len(vs); i++ {
			if vs[i] <= vs[i-1] {
				t.Errorf("order %s: versions %v in Kafka after de-duplication, want strictly increasing", order, vs)
				break
			}
		}
	}
	return len(all), duplicates
}

// startCluster starts a devstack and n members on it, member i with the
// flags extra[i], and waits until every shard is owned and spread over them.
func startCluster(t *testing.T, n int, extra ...[]string) (bins harness.Binaries, cql, kafka string, health []string, nodes []*clusterNode) {
	t.Helper()
	bins = harness.Build(t)
	cql, kafka = harness.StartDevstack(t, bins)
	var members []string
	for range n {
		health = append(health, harness.FreeAddr(t))
	}
	for i := range n {
		var flags []string
		if i < len(extra) {
			flags = extra[i]
		}
		nodes = append(nodes, startMember(t, bins, cql, kafka, health, i, "", flags...))
		members = append(members, nodes[i].member)
	}
	ownedBy(t, nodes[0].Node, 60*time.Second, members...)
	return bins, cql, kafka, health, nodes
}

// TestClusterOfThreeNodesLosesNothingWhenOneIsKilled runs three node
// processes as one cluster on one devstack: commands through all three,
// kill -9 of one under load, every acknowledged event in Kafka with per
// order versions strictly increasing after de-duplication, the shards owned by the
// survivors, and the killed node back as a member with shards again.
func TestClusterOfThreeNodesLosesNothingWhenOneIsKilled(t *testing.T) {
	bins, cql, kafka, health, nodes := startCluster(t, 3)
	all := []string{nodes[0].member, nodes[1].member, nodes[2].member}
	before, err := view(t, nodes[0].Node)
	if err != nil {
		t.Fatal(err)
	}
	collector := harness.Collect(t, kafka, nodes[0].Topic(""))
	load := startLoad(6, nodes[0].Remote, nodes[1].Remote, nodes[2].Remote)
	load.await(t, 400, 60*time.Second)
	load.target(nodes[0].Remote, nodes[1].Remote)
	nodes[2].Kill(t)
	killed := time.Now()
	after := ownedBy(t, nodes[0].Node, 30*time.Second, nodes[0].member, nodes[1].member)
	takeover := time.Since(killed)
	t.Logf("takeover: every shard owned by the two survivors %s after kill -9 (lease TTL 10s)", takeover.Round(100*time.Millisecond))
	if takeover > 15*time.Second {
		t.Errorf("takeover took %s, want within lease TTL + 5s", takeover)
	}
	for _, s := range after.Shards {
		if prev := before.Shards[s.Shard]; prev.Owner == nodes[2].member && s.Epoch <= prev.Epoch {
			t.Errorf("shard %d taken over without a new epoch: %d then %d", s.Shard, prev.Epoch, s.Epoch)
		}
	}
	load.await(t, 200, 60*time.Second)
	ids := load.end()
	records, duplicates := delivered(t, collector, ids)
	t.Logf("%d commands acknowledged through 3 nodes, %d records, %d duplicates, 0 lost, takeover %s",
		len(ids), records, duplicates, takeover.Round(100*time.Millisecond))
	shardsHeld(t, after, nodes[0], nodes[1])

	nodes[2] = startMember(t, bins, cql, kafka, health, 2, nodes[2].Remote)
	back := ownedBy(t, nodes[0].Node, 60*time.Second, all...)
	for _, s := range back.Shards {
		if s.Owner == nodes[2].member {
			return
		}
	}
	t.Errorf("the restarted node owns no shard: %+v", back.Shards)
}

// TestClusterNodePausedPastItsLeaseIsFenced pauses one of two members
// (SIGSTOP) past its leases: the other takes its shards under new epochs.
// Resumed, the paused node finds it stood still past its peers'
// dead-after (they dropped it for good) and stops with exit code 1; the
// epoch fence refuses its checkpoint on the way, no shard's epoch goes
// back, and nothing is lost or reordered. Started again, it rejoins and
// gets shards back.
func TestClusterNodePausedPastItsLeaseIsFenced(t *testing.T) {
	// The paused node saves progress only when it gives a shard up, so it
	// surely holds acknowledged progress to save when it resumes.
	bins, cql, kafka, health, nodes := startCluster(t, 2, nil, []string{"--cdc-progress-interval", "1h"})
	collector := harness.Collect(t, kafka, nodes[0].Topic(""))
	load := startLoad(4, nodes[0].Remote)
	load.await(t, 200, 60*time.Second)
	harness.Eventually(t, 30*time.Second, func() error {
		if n, err := processed(t, nodes[1].Node); err != nil || n == 0 {
			return fmt.Errorf("the node to pause has acknowledged no event of its shards yet (%v)", err)
		}
		return nil
	})
	if err := nodes[1].Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	paused := ownedBy(t, nodes[0].Node, 30*time.Second, nodes[0].member)
	nodes[1].ExpectExit(1)
	if err := nodes[1].Signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	select {
	case <-nodes[1].Exited():
	case <-time.After(60 * time.Second):
		t.Fatal("the resumed node, dropped by its peer, did not stop")
	}
	for _, want := range []string{"cluster member stalled past its peers' dead-after", "fenced: the lease is at epoch"} {
		if !strings.Contains(nodes[1].Log(), want) {
			t.Errorf("the resumed node's log lacks %q", want)
		}
	}
	load.await(t, 200, 60*time.Second)
	nodes[1] = startMember(t, bins, cql, kafka, health, 1, nodes[1].Remote)
	back := ownedBy(t, nodes[0].Node, 60*time.Second, nodes[0].member, nodes[1].member)
	for _, s := range back.Shards {
		if s.Epoch < paused.Shards[s.Shard].Epoch {
			t.Errorf("shard %d: epoch went back from %d to %d", s.Shard, paused.Shards[s.Shard].Epoch, s.Epoch)
		}
	}
	ids := load.end()
	records, duplicates := delivered(t, collector, ids)
	t.Logf("%d commands acknowledged, %d records, %d duplicates, 0 lost", len(ids), records, duplicates)
}
