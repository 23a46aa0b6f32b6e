package e2e

import (
	"cmp"
	"encoding/json"
	"fmt"
	"net"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/outboxnode/outbox/messages"
	"github.com/outboxnode/outbox/test/harness"
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

// startMember starts outbox-node i of a three-member cluster on the
// devstack's store and broker.
func startMember(t *testing.T, bins harness.Binaries, cql, kafka string, health []string, i int, remote string) *clusterNode {
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
	n := harness.StartNode(t, bins, args...)
	return &clusterNode{Node: n, health: health[i], member: clusterRemote(t, health[i])}
}

// clusterRemote is the members' remote of a node started with --cluster-addr
// addr and no --cluster-remote-addr: its port + 1.
func clusterRemote(t *testing.T, addr string) string {
	t.Helper()
	host, port, err := net.SplitHostPort(addr)
	p, perr := strconv.Atoi(port)
	if err != nil || perr != nil {
		t.Fatalf("cluster addr %q: %v %v", addr, err, perr)
	}
	return net.JoinHostPort(host, strconv.Itoa(p+1))
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

type clusterAck struct {
	order, event string
	version      int32
}

// TestClusterOfThreeNodesLosesNothingWhenOneIsKilled runs three node
// processes as one cluster on one devstack: commands through all three,
// kill -9 of one under load, every acknowledged event in Kafka with per
// order versions strictly increasing after de-duplication, the shards owned by the
// survivors, and the killed node back as a member with shards again.
func TestClusterOfThreeNodesLosesNothingWhenOneIsKilled(t *testing.T) {
	bins := harness.Build(t)
	cql, kafka := harness.StartDevstack(t, bins)
	health := []string{harness.FreeAddr(t), harness.FreeAddr(t), harness.FreeAddr(t)}
	nodes := make([]*clusterNode, 3)
	for i := range nodes {
		nodes[i] = startMember(t, bins, cql, kafka, health, i, "")
	}
	all := []string{nodes[0].member, nodes[1].member, nodes[2].member}
	before := ownedBy(t, nodes[0].Node, 60*time.Second, all...)
	owners := map[string]int{}
	for _, s := range before.Shards {
		owners[s.Owner]++
	}
	t.Logf("shards per member before the kill: %v", owners)
	collector := harness.Collect(t, kafka, nodes[0].Topic(""))

	var (
		mu      sync.Mutex
		acks    []clusterAck
		targets atomic.Pointer[[]string]
	)
	remotes := []string{nodes[0].Remote, nodes[1].Remote, nodes[2].Remote}
	targets.Store(&remotes)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for c := range 6 {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				ts := *targets.Load()
				node := ts[(c+i)%len(ts)]
				a, err := harness.Command(node, &messages.CreateOrder{CustomerId: "c" + strconv.Itoa(c), Amount: "1.00", Currency: "EUR"}, 10*time.Second)
				if err != nil {
					continue // not acknowledged: nothing is owed
				}
				mu.Lock()
				acks = append(acks, clusterAck{a.GetOrderId(), a.GetEventId(), a.GetVersion()})
				mu.Unlock()
				for u := range 3 {
					ts := *targets.Load()
					node := ts[(c+i+u+1)%len(ts)] // each command through another node
					a, err := harness.Command(node, &messages.UpdateOrder{OrderId: a.GetOrderId(), Amount: proto.String(strconv.Itoa(u+2) + ".00")}, 10*time.Second)
					if err != nil {
						break
					}
					mu.Lock()
					acks = append(acks, clusterAck{a.GetOrderId(), a.GetEventId(), a.GetVersion()})
					mu.Unlock()
				}
			}
		})
	}
	acked := func() int { mu.Lock(); defer mu.Unlock(); return len(acks) }
	harness.Eventually(t, 60*time.Second, func() error {
		if n := acked(); n < 400 {
			return fmt.Errorf("%d commands acknowledged", n)
		}
		return nil
	})
	survivors := []string{nodes[0].Remote, nodes[1].Remote}
	targets.Store(&survivors)
	nodes[2].Kill(t)
	killed := time.Now()
	after := ownedBy(t, nodes[0].Node, 10*time.Second+5*time.Second+10*time.Second, nodes[0].member, nodes[1].member)
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
	n := acked()
	harness.Eventually(t, 60*time.Second, func() error {
		if got := acked(); got < n+200 {
			return fmt.Errorf("%d commands acknowledged after the takeover, want 200", got-n)
		}
		return nil
	})
	close(stop)
	wg.Wait()

	mu.Lock()
	ids := make([]string, len(acks))
	for i, a := range acks {
		ids[i] = a.event
	}
	mu.Unlock()
	collector.WaitEvents(t, 60*time.Second, ids)
	records := collector.All()
	slices.SortFunc(records, func(a, b harness.Record) int {
		return cmp.Or(cmp.Compare(a.Partition, b.Partition), cmp.Compare(a.Offset, b.Offset))
	})
	seen := map[string]bool{}
	versions := map[string][]int{}
	duplicates := 0
	for _, r := range records {
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
				t.Errorf("order %s: versions %v in Kafka after de-duplication, want strictly increasing (kill at %s)", order, vs, killed.Format("15:04:05.000"))
				for _, r := range records {
					if r.Key == order {
						t.Logf("  %d/%d v%s event %s at %s", r.Partition, r.Offset, r.Headers["aggregate_version"], r.Headers["event_id"], r.ReceivedAt.Format("15:04:05.000"))
					}
				}
				break
			}
		}
	}
	t.Logf("%d commands acknowledged through 3 nodes, %d records, %d duplicates, 0 lost, takeover %s",
		len(ids), len(records), duplicates, takeover.Round(100*time.Millisecond))

	nodes[2] = startMember(t, bins, cql, kafka, health, 2, nodes[2].Remote)
	back := ownedBy(t, nodes[0].Node, 60*time.Second, all...)
	for _, s := range back.Shards {
		if s.Owner == nodes[2].member {
			return
		}
	}
	t.Errorf("the restarted node owns no shard: %+v", back.Shards)
}
