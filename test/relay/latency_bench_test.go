package relay

import (
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/outboxnode/outbox/messages"
	"github.com/outboxnode/outbox/test/harness"
)

// BenchmarkCommandToRecordAt1000PerSecond drives 1,000 CreateOrder/s for
// 5 s through Proto.Actor remote into outbox-node (embedded default) and
// reads the records back with sarama: it reports the latency from the
// event time (occurred_at, set just before the order's batch commits, so
// the commit is included) to the record reaching the consumer, end to end
// through the binaries, next to the command round trip.
//
//	go test -run '^$' -bench CommandToRecord -benchtime 1x ./test/relay/
func BenchmarkCommandToRecordAt1000PerSecond(b *testing.B) {
	const rate, seconds = 1000, 5
	bins := harness.Build(b)
	node := harness.StartNode(b, bins, "--log-level", "warn")
	kafka := harness.Collect(b, node.Kafka, node.Topic("OrderCreated"))

	ids := make(chan string, rate*seconds)
	commands := make(chan time.Duration, rate*seconds)
	jobs := make(chan int)
	var wg sync.WaitGroup
	var failed sync.Once
	var firstErr error
	// Enough clients to hold the rate while commits wait for the store.
	for range 256 {
		wg.Go(func() {
			for i := range jobs {
				t0 := time.Now()
				a, err := harness.Command(node.Remote, &messages.CreateOrder{CustomerId: fmt.Sprintf("b-%d", i), Amount: "1.00", Currency: "EUR"}, commandTimeout)
				commands <- time.Since(t0)
				if err != nil {
					failed.Do(func() { firstErr = err })
					continue
				}
				ids <- a.GetEventId()
			}
		})
	}
	tick := time.NewTicker(time.Second / rate)
	start := time.Now()
	for i := range rate * seconds {
		<-tick.C
		jobs <- i
	}
	tick.Stop()
	close(jobs)
	wg.Wait()
	sent := time.Since(start)
	close(ids)
	close(commands)
	if firstErr != nil {
		b.Fatalf("create order: %v", firstErr)
	}
	var want []string
	for id := range ids {
		want = append(want, id)
	}
	kafka.WaitEvents(b, time.Minute, want)

	var lat []time.Duration
	for _, r := range kafka.All() {
		at, err := time.Parse(time.RFC3339Nano, r.Headers["occurred_at"])
		if err != nil {
			b.Fatal(err)
		}
		lat = append(lat, r.ReceivedAt.Sub(at))
	}
	p50, p99 := quantiles(lat)
	var cmd []time.Duration
	for d := range commands {
		cmd = append(cmd, d)
	}
	c50, c99 := quantiles(cmd)
	b.Logf("%d orders at %.0f/s: event-time-to-record p50 %s p99 %s (command round trip p50 %s p99 %s)",
		len(want), float64(len(want))/sent.Seconds(), p50, p99, c50, c99)
	b.ReportMetric(float64(len(want))/sent.Seconds(), "orders/s")
	b.ReportMetric(float64(p50.Milliseconds()), "p50-ms")
	b.ReportMetric(float64(p99.Milliseconds()), "p99-ms")
}

func quantiles(d []time.Duration) (p50, p99 time.Duration) {
	slices.Sort(d)
	return d[len(d)/2], d[len(d)*99/100]
}
