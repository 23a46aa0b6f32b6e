package publisher_test

import (
	"context"
	"testing"
	"time"

	"github.com/outboxnode/outbox/actors/dlq/dlqtest"
	"github.com/outboxnode/outbox/messages"
)

// benchEvents returns n events over 1,000 aggregates, as the stream would
// hand them over: interleaved, versions increasing per aggregate.
func benchEvents(n int) []*messages.OutboxEvent {
	orders := make([][]*messages.OutboxEvent, 1000)
	per := n/len(orders) + 1
	for i := range orders {
		orders[i] = order(per, []byte(`{"status":"CREATED","total_cents":1250,"currency":"EUR"}`))
	}
	evs := make([]*messages.OutboxEvent, 0, n)
	for v := 0; len(evs) < n; v++ {
		for _, o := range orders {
			if len(evs) < n {
				evs = append(evs, o[v])
			}
		}
	}
	return evs
}

// startBenchRelay runs a relay on a broker with the default message size
// limit, so that batches are as large as in production.
func startBenchRelay(b *testing.B) *kafkaRelay {
	b.Helper()
	return newKafkaRelay(b, startBroker(b, 0), dlqtest.NewMemoryStore())
}

// BenchmarkPublisher measures events/s through the publisher actor
// (batched, one batch in flight) to the kfake broker, with every ack
// awaited.
func BenchmarkPublisher(b *testing.B) {
	k := startBenchRelay(b)
	evs := benchEvents(b.N)
	b.ResetTimer()
	start := time.Now()
	k.acks(k.publish(evs...))
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "events/s")
}

// BenchmarkNaivePublish is the baseline: one synchronous publish per
// event, through the same producer and broker.
func BenchmarkNaivePublish(b *testing.B) {
	k := startBenchRelay(b)
	evs := benchEvents(b.N)
	b.ResetTimer()
	start := time.Now()
	for _, ev := range evs {
		if err := k.producer.Publish(context.Background(), []*messages.OutboxEvent{ev})[0]; err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "events/s")
}
