package publisher_test

import (
	"context"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/outboxnode/outbox/actors/dlq"
	"github.com/outboxnode/outbox/actors/dlq/dlqtest"
	"github.com/outboxnode/outbox/infra/kafka"
	"github.com/outboxnode/outbox/infra/metrics"
	"github.com/outboxnode/outbox/infra/minikafka"
	"github.com/outboxnode/outbox/internal/poll"
	"github.com/outboxnode/outbox/messages"
)

// The tests below run the publisher against the real producer (sarama,
// idempotent, acks=all) and an in-process kfake broker.

const brokerLimit = 64 << 10 // the broker's message.max.bytes in these tests

var tooLarge = regexp.MustCompile(`too large|larger than`)

type kafkaRelay struct {
	*relay
	broker   *minikafka.Broker
	producer *kafka.Producer
	reg      *prometheus.Registry
}

func startKafkaRelay(t testing.TB) *kafkaRelay {
	t.Helper()
	return newKafkaRelay(t, startBroker(t, brokerLimit), dlqtest.NewMemoryStore())
}

// startBroker runs a broker whose message.max.bytes is maxBytes (0: the
// default, 1 MiB).
func startBroker(t testing.TB, maxBytes int) *minikafka.Broker {
	t.Helper()
	b, err := minikafka.Start(context.Background(), minikafka.Config{Addr: "127.0.0.1:0", MaxMessageBytes: maxBytes})
	if err != nil {
		t.Fatalf("start broker: %v", err)
	}
	t.Cleanup(b.Close)
	return b
}

// newKafkaRelay runs a relay publishing to b, with dead letters in store.
func newKafkaRelay(t testing.TB, b *minikafka.Broker, store dlq.Store) *kafkaRelay {
	t.Helper()
	p, err := kafka.New(kafka.Config{
		Brokers: []string{b.Addr()}, SendRetries: 1, RetryBackoff: 10 * time.Millisecond,
		Timeout: time.Second, DialTimeout: 500 * time.Millisecond,
	})
	if err != nil {
		t.Fatalf("producer: %v", err)
	}
	t.Cleanup(func() { _ = p.Close() })
	reg := prometheus.NewRegistry()
	m, err := metrics.New(reg)
	if err != nil {
		t.Fatal(err)
	}
	r := startRelay(t, p, kafka.IsPermanent, store, withMetrics(m))
	return &kafkaRelay{relay: r, broker: b, producer: p, reg: reg}
}

// value returns the value of the unlabelled series name (or of its first
// series), 0 when absent.
func (k *kafkaRelay) value(name string) float64 {
	k.t.Helper()
	mfs, err := k.reg.Gather()
	if err != nil {
		k.t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name || len(mf.GetMetric()) == 0 {
			continue
		}
		m := mf.GetMetric()[0]
		switch {
		case m.GetGauge() != nil:
			return m.GetGauge().GetValue()
		case m.GetCounter() != nil:
			return m.GetCounter().GetValue()
		case m.GetHistogram() != nil:
			return float64(m.GetHistogram().GetSampleCount())
		}
	}
	return 0
}

// records reads every record of the topics and returns, per key, the
// aggregate_version headers in offset order.
func (k *kafkaRelay) records(topics ...string) map[string][]int32 {
	k.t.Helper()
	client, err := sarama.NewClient([]string{k.broker.Addr()}, sarama.NewConfig())
	if err != nil {
		k.t.Fatal(err)
	}
	defer client.Close()
	consumer, err := sarama.NewConsumerFromClient(client)
	if err != nil {
		k.t.Fatal(err)
	}
	defer consumer.Close()
	out := make(map[string][]int32)
	for _, topic := range topics {
		parts, err := client.Partitions(topic)
		if err != nil {
			k.t.Fatalf("partitions of %s: %v", topic, err)
		}
		for _, part := range parts {
			hw, err := client.GetOffset(topic, part, sarama.OffsetNewest)
			if err != nil || hw == 0 {
				continue
			}
			pc, err := consumer.ConsumePartition(topic, part, sarama.OffsetOldest)
			if err != nil {
				k.t.Fatal(err)
			}
			for m := range pc.Messages() {
				for _, h := range m.Headers {
					if string(h.Key) == kafka.HeaderAggregateVersion {
						v, _ := strconv.Atoi(string(h.Value))
						out[string(m.Key)] = append(out[string(m.Key)], int32(v))
					}
				}
				if m.Offset == hw-1 {
					break
				}
			}
			pc.Close()
		}
	}
	return out
}

func TestKafkaTooLargeRecordIsDeadLetteredAndParksItsAggregate(t *testing.T) {
	k := startKafkaRelay(t)
	a, b := order(3, []byte(`{}`)), order(3, []byte(`{}`))
	a[0].Payload = []byte(`"` + strings.Repeat("x", brokerLimit) + `"`)

	acks := k.acks(k.publish(a[0], b[0], a[1], b[1], b[2]))
	// The producer refuses it before sending when it knows the broker's
	// limit, else the broker answers MESSAGE_TOO_LARGE: either way it says so.
	if ack := acks[a[0].GetEventId()]; ack.GetOutcome() != messages.AckOutcome_ACK_OUTCOME_DEAD_LETTERED ||
		!tooLarge.MatchString(ack.GetError()) {
		t.Fatalf("oversize record acked %v, want dead-lettered as too large", ack)
	}
	wantOutcome(t, acks, a[1], messages.AckOutcome_ACK_OUTCOME_PARKED)
	for _, ev := range b {
		wantOutcome(t, acks, ev, messages.AckOutcome_ACK_OUTCOME_PUBLISHED)
	}
	if got := k.value("dlq_messages_total"); got != 2 {
		t.Errorf("dlq_messages_total = %v, want 2", got)
	}

	// The operator gives up on the oversize head: what was parked follows, in order.
	a[0].Payload = []byte(`{}`) // irrelevant now: a skipped head is never published
	res := k.request(&messages.DLQSkip{EventId: a[0].GetEventId()}).(*messages.DLQResult)
	if res.GetAffected() != 2 {
		t.Fatalf("skip answered %v", res)
	}
	wantOutcome(t, k.acks(k.publish(a[2])), a[2], messages.AckOutcome_ACK_OUTCOME_PUBLISHED)
	got := k.records("OrderCreated", "OrderUpdated")
	wantVersions(t, got, a[0].GetAggregateId(), 2, 3)
	wantVersions(t, got, b[0].GetAggregateId(), 1, 2, 3)
	if n := k.value("cdc_events_processed_total"); n != 6 {
		t.Errorf("cdc_events_processed_total = %v, want 6", n)
	}
	if n := k.value("outbox_commit_to_publish_seconds"); n != 4 {
		t.Errorf("commit-to-publish observations = %v, want 4 (events published from the stream)", n)
	}
}

func TestKafkaOutageOpensBreakerWithoutDeadLettersAndRecovers(t *testing.T) {
	k := startKafkaRelay(t)
	warm := order(1, []byte(`{}`))
	k.acks(k.publish(warm...))

	if err := k.broker.SetUnavailable(true); err != nil {
		t.Fatal(err)
	}
	orders := make([][]*messages.OutboxEvent, 20)
	var evs []*messages.OutboxEvent
	for i := range orders {
		orders[i] = order(3, []byte(`{}`))
	}
	for v := range 3 {
		for _, o := range orders {
			evs = append(evs, k.publish(o[v])...)
		}
	}
	poll.Eventually(t, 20*time.Second, poll.True("circuit_breaker_state 1", func() bool { return k.value("circuit_breaker_state") == 1 }))
	if n := k.sink.count(); n != 1 { // only the warm-up event
		t.Fatalf("%d events acked during the outage", n-1)
	}
	if k.dlqLen() != 0 || k.value("dlq_messages_total") != 0 {
		t.Fatalf("outage wrote to the DLQ: %d entries", k.dlqLen())
	}
	if k.value("retry_attempts_total") == 0 {
		t.Errorf("retry_attempts_total did not count the retries")
	}

	if err := k.broker.SetUnavailable(false); err != nil {
		t.Fatal(err)
	}
	acks := k.acks(evs)
	for _, ev := range evs {
		wantOutcome(t, acks, ev, messages.AckOutcome_ACK_OUTCOME_PUBLISHED)
	}
	// Orders keep coming after recovery: the half-open trials succeed and close it.
	poll.Eventually(t, 20*time.Second, poll.True("circuit_breaker_state 0", func() bool {
		k.acks(k.publish(order(1, []byte(`{}`))...))
		return k.value("circuit_breaker_state") == 0
	}))
	got := k.records("OrderCreated", "OrderUpdated")
	for _, o := range orders {
		wantVersions(t, got, o[0].GetAggregateId(), 1, 2, 3)
	}
	if k.dlqLen() != 0 || k.value("dlq_messages_total") != 0 {
		t.Errorf("outage wrote to the DLQ: %d entries", k.dlqLen())
	}
}
