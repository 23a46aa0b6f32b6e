package e2e

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/outboxnode/outbox/messages"
	"github.com/outboxnode/outbox/test/harness"
)

// TestTwoActivationsOfOneOrderCommitEachVersionOnce runs two nodes whose
// views are stale for good: each is a cluster of one (its peers name only
// itself) on the same store, so each hosts its own activation of every
// order, which placement alone would never allow. The store's conditional
// commit still lets exactly one activation commit each version: the other
// gets CONFLICT, reloads, and its next command commits on top. The shards
// stay with one of them: the other never gets a lease, so nothing is
// relayed twice.
func TestTwoActivationsOfOneOrderCommitEachVersionOnce(t *testing.T) {
	bins := harness.Build(t)
	cql, kafka := harness.StartDevstack(t, bins)
	health := []string{harness.FreeAddr(t), harness.FreeAddr(t)}
	a := startMember(t, bins, cql, kafka, health[:1], 0, "")
	ownedBy(t, a.Node, 60*time.Second, a.member)
	b := startMember(t, bins, cql, kafka, health[1:], 0, "")
	harness.Eventually(t, 60*time.Second, func() error {
		v, err := view(t, b.Node)
		if err != nil {
			return err
		}
		if len(v.Members) != 1 || v.Members[0].Address != b.member {
			return fmt.Errorf("b sees members %+v, want only itself", v.Members)
		}
		return nil
	})
	collector := harness.Collect(t, kafka, a.Topic(""))

	created, err := harness.Command(a.Remote, &messages.CreateOrder{CustomerId: "split", Amount: "1.00", Currency: "EUR"}, 10*time.Second)
	if err != nil {
		t.Fatalf("create through a: %v", err)
	}
	order := created.GetOrderId()
	ids := []string{created.GetEventId()}
	update := func(node string, i int) (*messages.CommandAccepted, error) {
		return harness.Command(node, &messages.UpdateOrder{OrderId: order, Amount: proto.String(strconv.Itoa(i) + ".00")}, 10*time.Second)
	}
	// a's activation holds v1 from the create; b's loads v1 on its first
	// command. Each activation's second command is computed from a version
	// the other has moved past.
	steps := []struct {
		node    *clusterNode
		version int32 // 0: CONFLICT
	}{{b, 2}, {a, 0}, {a, 3}, {b, 0}, {b, 4}}
	for i, s := range steps {
		acc, err := update(s.node.Remote, i+2)
		if s.version == 0 {
			var rej *harness.RejectedError
			if !errors.As(err, &rej) || rej.Code != messages.RejectCode_REJECT_CODE_CONFLICT {
				t.Fatalf("step %d through %s: %v %v, want CONFLICT", i, s.node.member, acc, err)
			}
			continue
		}
		if err != nil || acc.GetVersion() != s.version {
			t.Fatalf("step %d through %s: version %d, %v; want version %d", i, s.node.member, acc.GetVersion(), err, s.version)
		}
		ids = append(ids, acc.GetEventId())
	}

	// Both activations at once: every version is committed by exactly one
	// of them, with no gap.
	var (
		mu        sync.Mutex
		versions  []int32
		conflicts int
		wg        sync.WaitGroup
	)
	for _, n := range []*clusterNode{a, b} {
		wg.Go(func() {
			for i := range 40 {
				acc, err := update(n.Remote, 10+i)
				var rej *harness.RejectedError
				mu.Lock()
				switch {
				case err == nil:
					versions = append(versions, acc.GetVersion())
					ids = append(ids, acc.GetEventId())
				case errors.As(err, &rej) && rej.Code == messages.RejectCode_REJECT_CODE_CONFLICT:
					conflicts++
				default:
					t.Errorf("update through %s: %v", n.member, err)
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	slices.Sort(versions)
	for i, v := range versions {
		if want := int32(5 + i); v != want {
			t.Fatalf("versions committed by the two activations %v: want each of 5..%d exactly once", versions, 4+len(versions))
		}
	}
	records, duplicates := delivered(t, collector, ids)
	if records-duplicates != len(ids) {
		t.Errorf("%d distinct events in Kafka for %d commits", records-duplicates, len(ids))
	}
	if v, err := view(t, b.Node); err != nil {
		t.Error(err)
	} else {
		for _, s := range v.Shards {
			if s.Owner != a.member {
				t.Errorf("shard %d owned by %q: b took a lease a holds", s.Shard, s.Owner)
			}
		}
	}
	// Every answer passed through the node that took the command, and was
	// counted there: the commits as accepted, the losers as conflict.
	counted := map[string]float64{}
	for _, n := range []*clusterNode{a, b} {
		families, err := memberMetrics(t, n.Node)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range families["outbox_commands_total"].GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "result" {
					counted[l.GetValue()] += m.GetCounter().GetValue()
				}
			}
		}
	}
	if counted["accepted"] != float64(len(ids)) || counted["conflict"] != float64(2+conflicts) {
		t.Errorf("outbox_commands_total over both nodes %v, want accepted %d, conflict %d", counted, len(ids), 2+conflicts)
	}
	t.Logf("two activations of order %s: %d commits (%d concurrent, %d concurrent CONFLICTs), %d records, %d duplicates",
		order, len(ids), len(versions), conflicts, records, duplicates)
}
