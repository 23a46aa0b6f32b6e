package kafka_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/outboxnode/outbox/actors/publisher"
	"github.com/outboxnode/outbox/infra/kafka"
	"github.com/outboxnode/outbox/infra/logtest"
	"github.com/outboxnode/outbox/infra/minikafka"
	"github.com/outboxnode/outbox/infra/minikafka/minikafkatest"
	"github.com/outboxnode/outbox/internal/poll"
	"github.com/outboxnode/outbox/messages"
	"github.com/outboxnode/outbox/test/harness"
)

var _ publisher.Producer = (*kafka.Producer)(nil)

func startBroker(t testing.TB, cfg minikafka.Config) *minikafka.Broker {
	t.Helper()
	cfg.Addr = "127.0.0.1:0"
	b, err := minikafka.Start(context.Background(), cfg)
	if err != nil {
		t.Fatalf("minikafka.Start: %v", err)
	}
	t.Cleanup(b.Close)
	return b
}

func newProducer(t testing.TB, cfg kafka.Config) *kafka.Producer {
	t.Helper()
	p, err := kafka.New(cfg)
	if err != nil {
		t.Fatalf("kafka.New: %v", err)
	}
	t.Cleanup(func() { _ = p.Close() })
	return p
}

// events returns n events spread over aggregates, versions increasing per aggregate.
func events(n, aggregates int, eventType string) []*messages.OutboxEvent {
	evs := make([]*messages.OutboxEvent, n)
	for i := range evs {
		evs[i] = newEvent(fmt.Sprintf("agg-%03d", i%aggregates), i/aggregates+1, eventType)
	}
	return evs
}

func requireAllNil(t *testing.T, errs []error) {
	t.Helper()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("record %d: %v", i, err)
		}
	}
}

func header(m *sarama.ConsumerMessage, key string) string {
	for _, h := range m.Headers {
		if string(h.Key) == key {
			return string(h.Value)
		}
	}
	return ""
}

func TestPublishBatchWithPerRecordAcks(t *testing.T) {
	const n, aggregates = 10_000, 100
	b := startBroker(t, minikafka.Config{})
	p := newProducer(t, kafka.Config{Brokers: []string{b.Addr()}, TopicTemplate: "orders.{{event_type}}"})
	evs := events(n, aggregates, "OrderCreated")
	errs := p.Publish(context.Background(), evs)
	if len(errs) != n {
		t.Fatalf("%d results for %d events", len(errs), n)
	}
	requireAllNil(t, errs)

	msgs := minikafkatest.ReadTopic(t, b.Addr(), "orders.OrderCreated")
	if len(msgs) != n {
		t.Fatalf("topic holds %d records, want %d", len(msgs), n)
	}
	lastVersion := map[string]int{}
	for _, m := range msgs {
		agg := string(m.Key)
		v, err := strconv.Atoi(header(m, kafka.HeaderAggregateVersion))
		if err != nil || header(m, kafka.HeaderAggregateID) != agg {
			t.Fatalf("offset %d: headers %v do not match key %q", m.Offset, m.Headers, agg)
		}
		if v != lastVersion[agg]+1 {
			t.Fatalf("aggregate %s: version %d after %d: per-key order broken", agg, v, lastVersion[agg])
		}
		lastVersion[agg] = v
		var ev messages.OutboxEvent
		if err := protojson.Unmarshal(m.Value, &ev); err != nil || ev.GetEventId() != header(m, kafka.HeaderEventID) {
			t.Fatalf("offset %d: value %s does not carry event %q (%v)", m.Offset, m.Value, header(m, kafka.HeaderEventID), err)
		}
		if !m.Timestamp.Equal(ev.GetOccurredAt().AsTime().Truncate(time.Millisecond)) {
			t.Fatalf("record timestamp %v, want event time %v", m.Timestamp, ev.GetOccurredAt().AsTime())
		}
	}
	if len(lastVersion) != aggregates {
		t.Fatalf("%d aggregates seen, want %d", len(lastVersion), aggregates)
	}
}

func TestTooLargeRecordFailsAlone(t *testing.T) {
	b := startBroker(t, minikafka.Config{})
	p := newProducer(t, kafka.Config{Brokers: []string{b.Addr()}})
	evs := events(100, 10, "OrderCreated")
	evs[50].Payload = make([]byte, 2<<20)
	errs := p.Publish(context.Background(), evs)
	var pe *kafka.PublishError
	if !errors.As(errs[50], &pe) || pe.Kind != kafka.KindPermanent || pe.Topic != "OrderCreated" {
		t.Fatalf("oversize record: err = %v, want a permanent PublishError on OrderCreated", errs[50])
	}
	errs[50] = nil
	requireAllNil(t, errs)
	if got := len(minikafkatest.ReadTopic(t, b.Addr(), "OrderCreated")); got != 99 {
		t.Fatalf("topic holds %d records, want 99", got)
	}
}

// With a broker limit far below the producer's default, full batches of
// small records must still fit: only the record too large by itself fails.
func TestBatchesFitASmallBrokerLimit(t *testing.T) {
	const limit = 64 << 10
	b := startBroker(t, minikafka.Config{MaxMessageBytes: limit})
	p := newProducer(t, kafka.Config{Brokers: []string{b.Addr()}})
	evs := events(2000, 1, "OrderCreated") // one key: one partition, ~1 MB in all
	for _, ev := range evs {
		ev.Payload = make([]byte, 400)
	}
	evs[1000].Payload = make([]byte, limit)
	errs := p.Publish(context.Background(), evs)
	if !kafka.IsPermanent(errs[1000]) {
		t.Fatalf("record above the broker limit: err = %v, want permanent", errs[1000])
	}
	errs[1000] = nil
	requireAllNil(t, errs)
}

func TestInvalidEventFailsAloneWithoutSending(t *testing.T) {
	b := startBroker(t, minikafka.Config{})
	p := newProducer(t, kafka.Config{Brokers: []string{b.Addr()}})
	evs := events(3, 3, "OrderCreated")
	evs[1].EventType = "bad type"
	errs := p.Publish(context.Background(), evs)
	if errs[0] != nil || errs[2] != nil || !errors.Is(errs[1], kafka.ErrInvalidTopic) || !kafka.IsPermanent(errs[1]) {
		t.Fatalf("errs = %v, want only the middle one to fail with an invalid topic", errs)
	}
}

func TestUnknownTopicWithoutAutoCreateIsPermanent(t *testing.T) {
	b := startBroker(t, minikafka.Config{DisableAutoCreateTopics: true, Topics: []string{"OrderCreated"}})
	p := newProducer(t, kafka.Config{Brokers: []string{b.Addr()}, SendRetries: 1, RetryBackoff: 10 * time.Millisecond})
	errs := p.Publish(context.Background(), []*messages.OutboxEvent{newEvent("a", 1, "OrderCreated"), newEvent("a", 2, "OrderShipped")})
	if errs[0] != nil || !kafka.IsPermanent(errs[1]) || !errors.Is(errs[1], sarama.ErrUnknownTopicOrPartition) {
		t.Fatalf("errs = %v, want the unknown topic alone to fail permanently", errs)
	}
}

func TestBrokerUnavailableAndRecovery(t *testing.T) {
	b := startBroker(t, minikafka.Config{Topics: []string{"OrderCreated"}})
	p := newProducer(t, kafka.Config{Brokers: []string{b.Addr()}, SendRetries: 1, RetryBackoff: 10 * time.Millisecond, Timeout: time.Second, DialTimeout: time.Second})
	requireAllNil(t, p.Publish(context.Background(), events(10, 2, "OrderCreated")))

	if err := b.SetUnavailable(true); err != nil {
		t.Fatal(err)
	}
	for i, err := range p.Publish(context.Background(), events(10, 2, "OrderCreated")) {
		if !kafka.IsUnavailable(err) {
			t.Fatalf("record %d during outage: err = %v (kind %v), want unavailable", i, err, kafka.Classify(err))
		}
	}

	if err := b.SetUnavailable(false); err != nil {
		t.Fatal(err)
	}
	// sarama's own per-partition breaker (3 failures -> 10 s open, hard-coded)
	// rejects records for a while after the outage: those errors must read
	// as unavailable too, or a recovery would dead-letter events.
	poll.Eventually(t, 30*time.Second, func() error {
		errs := p.Publish(context.Background(), events(10, 2, "OrderCreated"))
		for _, err := range errs {
			if err != nil && !kafka.IsUnavailable(err) {
				t.Fatalf("during recovery: %v classified %v, want unavailable", err, kafka.Classify(err))
			}
		}
		return errors.Join(errs...)
	})
}

// TestBrokerLostAndBackAreLoggedOnce checks an outage makes one line when
// the first record fails and one when the periodic check reaches the broker
// again, and that the health probe follows without calling the broker.
func TestBrokerLostAndBackAreLoggedOnce(t *testing.T) {
	b := startBroker(t, minikafka.Config{Topics: []string{"OrderCreated"}})
	logs, log := logtest.New()
	p := newProducer(t, kafka.Config{Brokers: []string{b.Addr()}, SendRetries: 1, RetryBackoff: 10 * time.Millisecond, Timeout: time.Second, DialTimeout: time.Second, Logger: log})
	requireAllNil(t, p.Publish(context.Background(), events(2, 2, "OrderCreated")))
	if err := b.SetUnavailable(true); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		for _, err := range p.Publish(context.Background(), events(2, 2, "OrderCreated")) {
			if !kafka.IsUnavailable(err) {
				t.Fatalf("during outage: %v, want unavailable", err)
			}
		}
	}
	if status, detail := p.Reachability().Check(context.Background()); status != messages.HealthStatus_HEALTH_STATUS_DOWN || !strings.HasPrefix(detail, "unreachable since ") {
		t.Errorf("probe during outage: %v %q", status, detail)
	}
	if err := b.SetUnavailable(false); err != nil {
		t.Fatal(err)
	}
	harness.Eventually(t, 30*time.Second, func() error {
		if status, detail := p.Reachability().Check(context.Background()); status != messages.HealthStatus_HEALTH_STATUS_OK {
			return fmt.Errorf("probe after the outage: %v %q", status, detail)
		}
		return nil
	})
	var changes []string
	for _, l := range logs.Lines() {
		if l.Level >= slog.LevelInfo && l.Message != "kafka connected" {
			changes = append(changes, l.Level.String()+" "+l.Message)
		}
	}
	if want := []string{"WARN kafka unreachable", "INFO kafka reachable"}; !slices.Equal(changes, want) {
		t.Fatalf("logged %q, want %q", changes, want)
	}
}

// A broker that is really gone (closed, port refused) must classify the same
// as minikafka's simulated outage above.
func TestBrokerGoneIsUnavailable(t *testing.T) {
	b := startBroker(t, minikafka.Config{Topics: []string{"OrderCreated"}})
	p := newProducer(t, kafka.Config{Brokers: []string{b.Addr()}, SendRetries: 1, RetryBackoff: 10 * time.Millisecond, Timeout: time.Second, DialTimeout: time.Second})
	requireAllNil(t, p.Publish(context.Background(), events(4, 2, "OrderCreated")))
	b.Close()
	for i, err := range p.Publish(context.Background(), events(4, 2, "OrderCreated")) {
		if !kafka.IsUnavailable(err) {
			t.Fatalf("record %d with the broker gone: err = %v (kind %v), want unavailable", i, err, kafka.Classify(err))
		}
	}
}

func TestLeaderlessTopicIsUnavailableAlone(t *testing.T) {
	b := startBroker(t, minikafka.Config{Topics: []string{"OrderCreated", "OrderCancelled"}})
	p := newProducer(t, kafka.Config{Brokers: []string{b.Addr()}, SendRetries: 1, RetryBackoff: 10 * time.Millisecond})
	b.SetTopicUnavailable("OrderCancelled", true)
	errs := p.Publish(context.Background(), []*messages.OutboxEvent{newEvent("a", 1, "OrderCreated"), newEvent("a", 2, "OrderCancelled")})
	if errs[0] != nil || !kafka.IsUnavailable(errs[1]) || !errors.Is(errs[1], sarama.ErrLeaderNotAvailable) {
		t.Fatalf("errs = %v, want only the leaderless topic to fail, as unavailable", errs)
	}
}

func TestPublishCanceledAndClosed(t *testing.T) {
	b := startBroker(t, minikafka.Config{})
	p := newProducer(t, kafka.Config{Brokers: []string{b.Addr()}})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	for _, err := range p.Publish(ctx, events(5, 1, "OrderCreated")) {
		if err != nil && kafka.Classify(err) != kafka.KindCanceled {
			t.Fatalf("canceled publish: err = %v, want nil (raced to the broker) or canceled", err)
		}
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	bounded, cancelBounded := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancelBounded()
	for _, err := range p.Publish(bounded, events(3, 1, "OrderCreated")) {
		if !errors.Is(err, kafka.ErrClosed) || kafka.Classify(err) != kafka.KindCanceled {
			t.Fatalf("publish after close: err = %v, want ErrClosed", err)
		}
	}
	if got := p.Publish(context.Background(), nil); len(got) != 0 {
		t.Fatalf("empty publish returned %v", got)
	}
}

func TestConfigValidation(t *testing.T) {
	for _, cfg := range []kafka.Config{
		{},
		{Brokers: []string{"no-port"}},
		{Brokers: []string{"127.0.0.1:9092"}, MaxMessageBytes: -1},
		{Brokers: []string{"127.0.0.1:9092"}, SendRetries: -1},
		{Brokers: []string{"127.0.0.1:9092"}, FlushFrequency: -time.Second},
	} {
		if _, err := kafka.New(cfg); !errors.Is(err, kafka.ErrInvalidConfig) {
			t.Errorf("New(%+v): err = %v, want ErrInvalidConfig", cfg, err)
		}
	}
}

// BenchmarkPublish reports records/s for Publish with batches of 500.
func BenchmarkPublish(b *testing.B) {
	const batch = 500
	broker := startBroker(b, minikafka.Config{Topics: []string{"OrderCreated"}})
	p := newProducer(b, kafka.Config{Brokers: []string{broker.Addr()}})
	evs := events(batch, 50, "OrderCreated")
	b.ResetTimer()
	for b.Loop() {
		for _, err := range p.Publish(context.Background(), evs) {
			if err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(b.N*batch)/b.Elapsed().Seconds(), "records/s")
}
