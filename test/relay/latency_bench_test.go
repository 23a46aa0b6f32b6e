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

// BenchmarkCommandToRecordAt1000PerSecond drives b.N CreateOrder commands
// at 1,000/s through Proto.Actor remote into outbox-node (embedded store)
// and reads the records back with sarama: it reports the latency from the
// event time (occurred_at, set just before the order's batch commits, so
// the commit is included) to the record reaching the consumer, end to end
// through the binaries, next to the command round trip. It runs twice,
// with the embedded defaults (server timestamps, 10 ms CDC window) and
// with the 500 ms window the embedded store had before it stamped writes
// (with client timestamps as well, a loaded run lost 2 of 5,000 events:
// their commands took longer than the window). Each round starts its own
// node; pick the orders with -benchtime:
//
//	go test -run '^$' -bench CommandToRecord -benchtime 5000x ./test/relay/
func BenchmarkCommandToRecordAt1000PerSecond(b *testing.B) {
	for _, mode := range []struct {
		name  string
		flags []string
	}{
		{"window-10ms", nil},
		{"window-500ms", []string{"--cdc-confidence-window", "500ms"}},
	} {
		b.Run(mode.name, func(b *testing.B) { commandToRecord(b, mode.flags) })
	}
}

func commandToRecord(b *testing.B, flags []string) {
	const rate = 1000
	bins := harness.Build(b)
	node := harness.StartNode(b, bins, append([]string{"--log-level", "warn"}, flags...)...)
	kafka := harness.Collect(b, node.Kafka, node.Topic("OrderCreated"))

	ids := make(chan string, b.N)
	commands := make(chan time.Duration, b.N)
	jobs := make(chan int)
	var wg sync.WaitGroup
	var failed sync.Once
	var firstErr error
	b.ResetTimer()
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
	// Each command at its own time on the schedule: a late one does not
	// push the others back, so the offered rate stays 1,000/s.
	start := time.Now()
	for i := range b.N {
		time.Sleep(time.Until(start.Add(time.Duration(i) * time.Second / rate)))
		jobs <- i
	}
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
	b.StopTimer()

	var lat []time.Duration
	for _, r := range kafka.All() {
		at, err := time.Parse(time.RFC3339Nano, r.Headers["occurred_at"])
		if err != nil {
			b.Fatal(err)
		}
		lat = append(lat, r.ReceivedAt.Sub(at))
	}
	if len(lat) == 0 {
		b.Fatal("no records consumed")
	}
	slices.Sort(lat)
	var cmd []time.Duration
	for d := range commands {
		cmd = append(cmd, d)
	}
	c50, c99 := quantiles(cmd)
	p50, p95, p99 := percentile(lat, 0.50), percentile(lat, 0.95), percentile(lat, 0.99)
	b.Logf("%d orders at %.0f/s: event-time-to-record p50 %s p95 %s p99 %s (command round trip p50 %s p99 %s)",
		len(want), float64(len(want))/sent.Seconds(), p50, p95, p99, c50, c99)
	b.ReportMetric(float64(len(want))/sent.Seconds(), "orders/s")
	b.ReportMetric(float64(p50.Microseconds())/1e3, "p50-ms")
	b.ReportMetric(float64(p95.Microseconds())/1e3, "p95-ms")
	b.ReportMetric(float64(p99.Microseconds())/1e3, "p99-ms")
	b.ReportMetric(float64(c99.Microseconds())/1e3, "cmd-p99-ms")
}

// quantiles sorts d and returns its median and 99th percentile.
func quantiles(d []time.Duration) (p50, p99 time.Duration) {
	slices.Sort(d)
	return percentile(d, 0.50), percentile(d, 0.99)
}

// percentile returns the q quantile of sorted, which must not be empty.
func percentile(sorted []time.Duration, q float64) time.Duration {
	return sorted[int(float64(len(sorted)-1)*q)]
}
