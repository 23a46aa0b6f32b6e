package e2e

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"google.golang.org/protobuf/proto"

	"github.com/outboxnode/outbox/messages"
	"github.com/outboxnode/outbox/test/harness"
)

// benchClients is the number of concurrent remote clients.
const benchClients = 64

// BenchmarkCommandPath measures commands through Proto.Actor remote with 64
// concurrent clients, each creating an order and updating it three times,
// against a node and a store+broker (cmd/devstack) in separate processes:
// a node alone, and a cluster member of one, whose commands go to order
// grains that commit conditionally. It reports commands/s and the p50/p99
// latency of one command.
func BenchmarkCommandPath(b *testing.B) {
	b.Run("alone", func(b *testing.B) { benchCommandPath(b) })
	b.Run("cluster-member", func(b *testing.B) {
		health := harness.FreeAddr(b)
		benchCommandPath(b, "--cluster-name", "bench", "--cluster-addr", health, "--cluster-peers", health,
			"--scylla-server-timestamps=true", "--topic-template", clusterTopic)
	})
}

func benchCommandPath(b *testing.B, extra ...string) {
	bins := harness.Build(b)
	cql, kafka := harness.StartDevstack(b, bins)
	node := harness.StartNode(b, bins, append([]string{"--scylla-hosts", cql, "--kafka-brokers", kafka, "--migrate", "--log-level", "warn"}, extra...)...)
	sys := harness.Client()
	coordinator := actor.NewPID(node.Remote, "coordinator")
	request := func(msg proto.Message) (*messages.CommandAccepted, error) {
		res, err := sys.Root.RequestFuture(coordinator, msg, 10*time.Second).Result()
		if err != nil {
			return nil, err
		}
		a, ok := res.(*messages.CommandAccepted)
		if !ok {
			return nil, fmt.Errorf("reply %T %v", res, res)
		}
		return a, nil
	}
	// A cluster member places grains once it has published its member list.
	harness.Eventually(b, 30*time.Second, func() error {
		_, err := request(&messages.CreateOrder{CustomerId: "warm-up", Amount: "1.00", Currency: "EUR"})
		return err
	})

	var next atomic.Int64
	latencies := make([][]time.Duration, benchClients)
	// A failing client stops and leaves its error here; the benchmark
	// goroutine fails the run.
	errs := make([]error, benchClients)
	var wg sync.WaitGroup
	b.ResetTimer()
	start := time.Now()
	for c := range benchClients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var orderID string
			for i := next.Add(1); i <= int64(b.N); i = next.Add(1) {
				var msg proto.Message = &messages.CreateOrder{CustomerId: "bench", Amount: "10.00", Currency: "EUR"}
				if orderID != "" && i%4 != 0 {
					amount := "11.00"
					msg = &messages.UpdateOrder{OrderId: orderID, Amount: &amount}
				}
				t0 := time.Now()
				a, err := request(msg)
				if err != nil {
					errs[c] = fmt.Errorf("command %d: %w", i, err)
					return
				}
				latencies[c] = append(latencies[c], time.Since(t0))
				orderID = a.GetOrderId()
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()

	if err := errors.Join(errs...); err != nil {
		b.Fatal(err)
	}
	all := slices.Concat(latencies...)
	slices.Sort(all)
	if len(all) == 0 {
		b.Fatal("no command latencies measured")
	}
	b.ReportMetric(float64(len(all))/elapsed.Seconds(), "cmds/s")
	b.ReportMetric(float64(all[len(all)/2].Microseconds())/1000, "p50_ms")
	b.ReportMetric(float64(all[len(all)*99/100].Microseconds())/1000, "p99_ms")
}
